//! Findings not fixed yet (see `fuzz/regressions/README.md`). A check
//! lets one of these pass so that fuzzing goes on past it and CI stays
//! green; the replay test runs the inputs of `fuzz/regressions/` in
//! [`strict`] mode, where nothing is let pass, and requires each to still
//! fail its check: when a fix lands, that test says so, and the input
//! moves to the corpus and its variant goes from here.

use std::cell::Cell;

/// One unfixed finding.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Finding {
    /// `message::dkim::sign::sign` writes its field right before a
    /// message whose first line (after an mbox `From ` line) starts with
    /// white space (a fold before any field, which `read_block` skips):
    /// that line becomes part of the new field, whose `b=` then does not
    /// decode (PermError).
    DkimLeadingFold,
    /// `sign`'s writer takes a first line starting with `From ` for an
    /// mbox `From_` line and writes the new field after it, while the
    /// header reader (and so the signer) reads `From :a@b` (obsolete
    /// white space before the colon, RFC 5322 §4.5.3) as the From field;
    /// when that line has no line end, the field is glued to it and
    /// verifiers never see it.
    DkimFromLineGlued,
    /// The client's `-v` transcript (`smtp::client::log`) escapes
    /// `char::is_control` only: bidi controls and U+2028/U+2029 from the
    /// server reach the terminal.
    TranscriptBidi,
    /// `message::multipart::filename::sanitize` trims white space, then
    /// shortens a long name to `MAX_NAME` bytes: the cut can leave white
    /// space at the end, which its documents rule out.
    SanitizeCutBlank,
    /// `send::url::parse` refuses ASCII controls in a host name but not
    /// C1 controls or bidi controls (non-ASCII, let in for IDN names):
    /// they come out in the URL the tools print.
    UrlHostControls,
    /// The server's 555 for an unknown MAIL/RCPT parameter quotes the
    /// keyword whole (`smtp::server`, `unrecognized_param`): a command
    /// line up to the AUTH line limit gives a reply line over the 512
    /// octets of RFC 5321 §4.5.3.1.5.
    ServerLongParamReply,
}

thread_local! {
    static STRICT: Cell<bool> = const { Cell::new(false) };
}

/// Whether a check may let `finding` pass (not in [`strict`] mode).
pub(crate) fn tolerated(finding: Finding) -> bool {
    let _ = finding; // names the finding where a check lets it pass
    !STRICT.with(Cell::get)
}

/// Runs `f` (on this thread) with no finding let pass.
pub fn strict<T>(f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            STRICT.with(|s| s.set(false));
        }
    }
    STRICT.with(|s| s.set(true));
    let _reset = Reset;
    f()
}
