//! The TOML configuration file (see [`super`] for its format).

// send::error::Error is large since the per-recipient results (its Smtp
// variant); it is returned once per run, so boxing it here gains nothing.
#![allow(clippy::result_large_err)]

use crate::send::error::Error;

use super::layer::*;

/// Parses and checks a TOML configuration (`file` names it in errors).
pub fn parse_toml(text: &str, file: &str) -> Result<Config, Error> {
    use toml::de::{DeTable, DeValue};
    let place = |span: std::ops::Range<usize>| Place {
        file: file.to_owned(),
        line: line_of(text.as_bytes(), span.start),
    };
    let doc = DeTable::parse(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        let msg = e.message().lines().next().unwrap_or("").trim().to_owned();
        config_error(&place(at..at), format_args!("TOML syntax: {msg}"))
    })?;
    let mut config = Config {
        file: file.to_owned(),
        ..Config::default()
    };
    for (key, value) in doc.get_ref() {
        let name: &str = key.get_ref();
        let p = place(key.span());
        match (name, value.get_ref()) {
            ("default", DeValue::Table(t)) => config.default = layer(t, "default", p, &place)?,
            ("accounts", DeValue::Table(t)) => {
                for (acct, v) in t {
                    let aname: &str = acct.get_ref();
                    let path = format!("accounts.{aname}");
                    let ap = place(acct.span());
                    if aname.is_empty() || aname.chars().any(char::is_control) {
                        return Err(config_error(
                            &ap,
                            format_args!("{path:?}: bad account name"),
                        ));
                    }
                    let DeValue::Table(t) = v.get_ref() else {
                        return Err(config_error(
                            &ap,
                            format_args!("{path}: want a table ([{path}])"),
                        ));
                    };
                    let l = layer(t, &path, ap, &place)?;
                    config.accounts.push((aname.to_owned(), l));
                }
            }
            ("default" | "accounts", _) => {
                return Err(config_error(&p, format_args!("{name}: want a table")));
            }
            _ => {
                return Err(config_error(
                    &p,
                    format_args!(
                        "{name}: unknown key (the file has a [default] table and [accounts.NAME] tables)"
                    ),
                ));
            }
        }
    }
    config.accounts.sort_by_key(|(_, l)| l.line);
    Ok(config)
}

fn layer(
    table: &toml::de::DeTable<'_>,
    path: &str,
    at: Place,
    place: &dyn Fn(std::ops::Range<usize>) -> Place,
) -> Result<Layer, Error> {
    use toml::de::DeValue;
    let mut out = Layer {
        line: at.line,
        ..Layer::default()
    };
    for (key, value) in table {
        let name: &str = key.get_ref();
        let p = place(key.span());
        let what = format!("{path}.{name}");
        if name == "password" {
            return Err(config_error(
                &p,
                format_args!(
                    "{what}: plain passwords are not read from the configuration: \
                     use password_cmd or password_file"
                ),
            ));
        }
        let Some(&(k, kind)) = KEYS.iter().find(|(k, _)| *k == name) else {
            return Err(config_error(&p, format_args!("{what}: unknown key")));
        };
        if k == "match_from" && path == "default" {
            return Err(config_error(
                &p,
                format_args!("{what}: match_from belongs in an [accounts.NAME] table"),
            ));
        }
        let raw = match value.get_ref() {
            DeValue::String(s) => Raw::Str(s.as_ref()),
            DeValue::Boolean(b) => Raw::Bool(*b),
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Raw::Num(n as f64),
                Err(_) => Raw::Other("a number out of range"),
            },
            DeValue::Float(f) => match f.as_str().parse::<f64>() {
                Ok(n) => Raw::Num(n),
                Err(_) => Raw::Other("a bad number"),
            },
            DeValue::Array(items) => {
                let mut list = Vec::new();
                for item in items {
                    match item.get_ref() {
                        DeValue::String(s) => list.push(s.to_string()),
                        _ => {
                            list.clear();
                            break;
                        }
                    }
                }
                if list.len() == items.len() && !list.is_empty() {
                    Raw::List(list)
                } else {
                    Raw::Other("an array that is not of strings")
                }
            }
            DeValue::Datetime(_) => Raw::Other("a date"),
            DeValue::Table(_) => Raw::Other("a table"),
        };
        let v = check(kind, raw).map_err(|why| config_error(&p, format_args!("{what}: {why}")))?;
        out.settings.insert(k, (v, p));
    }
    check_layer(&out, path, &at)?;
    Ok(out)
}
