//! Every limit on untrusted input, in one place, each with where it comes from.

/// Size of the buffers between the tools and the kernel (stdin, stdout, files).
///
/// 128 KiB: large enough that a 2+ GB/s codec makes few syscalls (measured:
/// 64 KiB reads cost ~10 % of mime-b64's encode throughput, 128 KiB ~4 %),
/// small enough to keep every tool's resident memory within a few MiB.
pub const IO_BUF: usize = 128 * 1024;

/// Largest header block (all fields of one message, folded) we read.
///
/// Postfix truncates at `header_size_limit` = 102400 bytes; we accept ten
/// times that so that anything an MTA accepted can still be read, while a
/// hostile "header" with no blank line cannot make us grow without bound.
pub const MAX_HEADER_BYTES: usize = 1024 * 1024;

/// Largest number of fields in one header block (Go's net/mail and
/// CVE-2023-24536 use 10,000 per part; Postfix has no count limit).
pub const MAX_HEADER_FIELDS: usize = 10_000;

/// Longest line read from a text input processed line by line (header
/// lines, `mime-word` input lines). RFC 5322 §2.1.1 caps lines at 998 octets;
/// real mail breaks that, so this is a lenient cap equal to the header limit.
pub const MAX_LINE: usize = MAX_HEADER_BYTES;

/// Longest run of SPACE/TAB/CR the quoted-printable decoder holds back while
/// it cannot yet tell whether the run ends its line (RFC 2045 §6.7 rule 3:
/// then it is deleted). Encoded lines are at most 76 characters (rule 5) and
/// SMTP lines 1000 (RFC 5321 §4.5.3.1.6), so real mail never reaches it; a
/// longer hostile run is written out as data, keeping memory constant.
pub const QP_MAX_PENDING_WS: usize = 4096;

/// Deepest nesting of containers (multipart and message/rfc822 entities
/// together) around a MIME part: the 65th level is an error. 64 is mblaze's
/// limit; Postfix's `mime_nesting_limit` and mail-parser use 100; no real
/// mail nests more than a handful.
pub const MAX_MIME_DEPTH: usize = 64;

/// Most entities (parts, containers included) in one message. Go's
/// `mime/multipart` (CVE-2023-24536) and Haraka stop at 1,000 parts; 10,000
/// lets large digests unpack while a million empty parts stop early.
pub const MAX_PARTS: usize = 10_000;

/// Longest SMTP command line, CRLF included (RFC 5321 §4.5.3.1.4).
pub const SMTP_MAX_COMMAND_LINE: usize = 512;

/// Longest line of message text in DATA, CRLF included (RFC 5321 §4.5.3.1.6);
/// `smtp-recv --max-line` changes it.
pub const SMTP_MAX_TEXT_LINE: usize = 1000;

/// Default largest message `smtp-recv` accepts (advertised as SIZE, RFC 1870);
/// 35 MiB is a common provider limit (Gmail receives up to 35 MB with encoding).
pub const SMTP_MAX_MESSAGE_SIZE: u64 = 35 * 1024 * 1024;

/// Recipients per transaction; RFC 5321 §4.5.3.1.8 requires at least 100.
pub const SMTP_MAX_RCPTS: usize = 100;

/// Errors per session before `421` and close (Postfix `smtpd_hard_error_limit`
/// is 20).
pub const SMTP_MAX_ERRORS: u32 = 20;

/// Server idle timeout in seconds (RFC 5321 §4.5.3.2.7: at least 5 minutes).
pub const SMTP_IDLE_TIMEOUT_SECS: u64 = 300;

/// Longest a whole session may last, in seconds, so a client cannot hold a
/// slot forever by staying just inside the idle timeout.
pub const SMTP_SESSION_DEADLINE_SECS: u64 = 3600;

/// How long `smtp-send` may use a connection for its setup and first
/// message, and for each further message from its start (issue 17): the
/// RFC 5321 §4.5.3.2 limits bound each wait, not how many a hostile server
/// chains, nor message text taken at a trickle. The hour `smtp-recv` gives
/// a session ([`SMTP_SESSION_DEADLINE_SECS`]), above the 50 minutes the
/// RFC's stage limits add up to for one message (§4.5.3.2.1 to .6, one
/// block of text).
pub const SMTP_SEND_SESSION_SECS: u64 = 3600;

/// Slowest accepted DATA rate in bytes per second, averaged over the DATA
/// phase after a grace period (a slow-drip client is cut off with 421).
pub const SMTP_MIN_DATA_RATE: u64 = 1024;

/// Longest AUTH command or response line (RFC 4954 §4: 12288 octets).
pub const SMTP_MAX_AUTH_LINE: usize = 12_288;

/// Sessions `smtp-recv` serves at once; more connections get 421.
pub const SMTP_MAX_CLIENTS: usize = 16;

/// `smtp-recv`'s idle timeout, in seconds, for sessions outside a
/// transaction while every slot is busy (stress mode, issue 17): Postfix's
/// `smtpd_timeout = ${stress?{10}:{300}}` (postconf(5)), so that idle
/// connections cannot lock real clients out for the whole idle timeout.
pub const SMTP_STRESS_IDLE_TIMEOUT_SECS: u64 = 10;

/// Longest MIME boundary recognised, in bytes. RFC 2046 §5.1.1 allows 70;
/// real mail has longer ones (mime4j's test corpus has one of 7,011 bytes;
/// Postfix compares 2,048). A longer boundary makes its multipart one part,
/// with a defect. It bounds the look-ahead `mime-unpack`'s boundary scanner
/// needs to decide whether a line is a delimiter.
pub const MAX_BOUNDARY: usize = 8 * 1024;

/// Most transport padding (spaces and tabs, RFC 2046 §5.1.1) after a
/// boundary on its line; a line with more is not a delimiter. Real padding
/// is a few blanks that a gateway added; the cap bounds the same look-ahead
/// as [`MAX_BOUNDARY`].
pub const MAX_BOUNDARY_PADDING: usize = 1024;

/// How far ahead the first line end of a message or MIME part is looked for
/// to tell CRLF from LF text (which quoted-printable hard breaks follow):
/// RFC 5322 §2.1.1 lines are at most 998 octets, so 4 KiB covers any line
/// that follows it; past that, LF is assumed for a message and its
/// message's line end for a part.
pub const LINE_END_PEEK: usize = 4096;

/// Preamble of a multipart held in memory by `mime-unpack -x` in case the
/// multipart turns out to have no parts (its body is then extracted); a
/// longer one goes to a temporary file. Real preambles are one line
/// ("This is a multi-part message in MIME format.").
pub const PREAMBLE_IN_MEMORY: usize = 64 * 1024;

/// Longest UTF-7 line (RFC 2152) held before it is decoded anyway: UTF-7 is
/// decoded line by line (a shift sequence never spans a line end), and a
/// hostile part without line ends must not grow the buffer. RFC 5322
/// §2.1.1 lines are at most 998 octets.
pub const UTF7_LINE: usize = 64 * 1024;

/// Longest file name `mime-unpack -x` creates, in bytes (`NAME_MAX` on
/// Linux and the BSDs); a longer name from a message is shortened. Values
/// in the text listing are cut at the same length.
pub const MAX_NAME: usize = 255;

/// Lines of the `mime-unpack` text listing held back to align its columns;
/// later lines keep those widths. With each value at most [`MAX_NAME`]
/// bytes this bounds the listing's memory however many parts a message has
/// (at most [`MAX_PARTS`]); 100 covers nearly every real message whole.
pub const LIST_ALIGN_ROWS: usize = 100;

/// Most pieces in one message/partial set (RFC 2046 §5.2.2) that
/// `mime-unpack --reassemble` joins; a larger `number` or `total` is an
/// error. `mpack` splits at 1000 lines or more per piece; 10,000 pieces of
/// the smallest useful size are well past any real set.
pub const MAX_PIECES: u32 = 10_000;

/// Longest MAIL or RCPT command line, CRLF included: 512 (RFC 5321
/// §4.5.3.1.4) plus what the extensions we take may add (§4.5.3.1.4 lets
/// each raise it: SIZE 26, BODY 16, SMTPUTF8 9, DSN's RET/ENVID and
/// NOTIFY/ORCPT up to 600 more), rounded up to 2048 for clients that pad.
pub const SMTP_MAX_MAIL_LINE: usize = 2048;

/// Longest local part of an SMTP address, in octets (RFC 5321 §4.5.3.1.1).
pub const SMTP_MAX_LOCAL_PART: usize = 64;

/// Longest domain of an SMTP address, in octets (RFC 5321 §4.5.3.1.2).
pub const SMTP_MAX_DOMAIN: usize = 255;

/// Longest SMTP path, `<` and `>` included (RFC 5321 §4.5.3.1.3).
pub const SMTP_MAX_PATH: usize = 256;

/// Most ESMTP parameters on one MAIL or RCPT command: the extensions we
/// know define six on MAIL and two on RCPT; 16 leaves room.
pub const SMTP_MAX_PARAMS: usize = 16;

/// Longest reply line `smtp-send` reads from a server, line end included.
/// RFC 5321 §4.5.3.1.5 says 512, but real servers send longer rejection
/// texts; Python's smtplib allows 8192 (`_MAXLINE`), and so do we.
pub const SMTP_MAX_REPLY_LINE: usize = 8192;

/// Most lines in one server reply (an EHLO reply has one per extension,
/// about 20 in practice; smtplib allows 100). With
/// [`SMTP_MAX_REPLY_LINE`] a reply is at most 800 KiB.
pub const SMTP_MAX_REPLY_LINES: usize = 100;

/// Most AUTH challenges from a server in one exchange before `smtp-send`
/// calls it broken (the mechanisms we have need at most two).
pub const SMTP_MAX_AUTH_ROUNDS: usize = 8;

/// Replies `smtp-recv` queues for a pipelining client (RFC 2920) before it
/// writes them even though more input is buffered, so that thousands of
/// pipelined NOOPs cannot grow its memory.
pub const SMTP_OUTPUT_HIGH_WATER: usize = 16 * 1024;

/// Most bytes `smtp-recv` reads and discards from a client after its last
/// reply, before closing (so that a reset does not destroy that reply).
pub const SMTP_DRAIN_MAX: usize = 256 * 1024;

/// Longest password or OAuth token read from a file or a command (tokens
/// run to a few KiB; this bounds what a runaway command can make us hold).
pub const MAX_SECRET: u64 = 64 * 1024;

/// Largest netrc file read (they are a few lines; this bounds a mistaken
/// path such as a log file).
pub const MAX_NETRC: u64 = 1024 * 1024;

// ---- issue 6 (smtp-send part two): queue, MX, -bs, mailboxes, config ----

/// Most addresses tried for one recipient domain with `smtp-send --mx`
/// (all its MX hosts' addresses together). Postfix's
/// `smtp_mx_address_limit` is 5; a hostile zone with hundreds of MX records
/// must not keep us connecting for hours.
pub const MX_MAX_ADDRESSES: usize = 10;

/// Most MX records of one DNS answer looked at: a 512-octet UDP answer
/// (RFC 1035 §4.2.1) holds about 30 short ones; the resolver bounds the
/// answer's size, this bounds our work.
pub const MX_MAX_RECORDS: usize = 32;

/// Longest wait, in seconds, for one DNS query attempt with `--mx` (the
/// resolver makes two): glibc's default `options timeout:5`
/// (resolv.conf(5), `RES_TIMEOUT`). `--connect-timeout` lowers it.
pub const DNS_TIMEOUT_SECS: u64 = 5;

/// Longest head (the envelope lines) of a `smtp-send --queue` file read
/// back: one short line per recipient, so about a thousand recipients of
/// typical length (paths are at most 256 octets, RFC 5321 §4.5.3.1.3);
/// whichever of this and [`QUEUE_MAX_RCPTS`] comes first; a larger head is
/// a corrupt or hostile file.
pub const QUEUE_MAX_HEAD: usize = 256 * 1024;

/// Most recipients a queue file may name (one message for 10,000 is far
/// beyond [`SMTP_MAX_RCPTS`] per transaction already).
pub const QUEUE_MAX_RCPTS: usize = 10_000;

/// Longest line in a queue file's head: a path is at most 256 octets (RFC
/// 5321 §4.5.3.1.3); the last reply kept is cut to this.
pub const QUEUE_MAX_HEAD_LINE: usize = 4096;

/// Age, in seconds, after which a file left in a queue's `tmp/` is a
/// crash's leftover and removed (the 36 hours of D. J. Bernstein's maildir
/// specification for files in `tmp/`).
pub const QUEUE_STALE_TMP_SECS: u64 = 36 * 3600;

/// How much of an mbox line is looked at to find a `From ` line or its
/// `>From ` quoting: the longest `>>>…From ` prefix unquoted (mboxrd); a
/// longer run of `>` is passed through as it is.
pub const MBOX_LINE_PEEK: usize = 4096;

/// Bytes of a message kept in memory before it spills to an unlinked
/// temporary file (`smtp-send -bs` and `smtp-recv`'s store spool: typical
/// mail, a few tens of KiB, never touches the disk).
pub const SPOOL_MEM: usize = 256 * 1024;

/// Largest configuration file read (`config.toml`, `~/.msmtprc`): real ones
/// are a few hundred bytes; this bounds a mistaken path such as a log file.
pub const MAX_CONFIG: u64 = 1024 * 1024;

/// Largest aliases file read (`smtp-send --aliases`): a big site's
/// `/etc/aliases` is a few thousand lines, some hundred KiB; this bounds a
/// mistaken path such as a log file while any real one fits.
pub const MAX_ALIASES_FILE: u64 = 4 * 1024 * 1024;

/// Most bytes of a `mime-unpack --html-cmd` command's output shown; the
/// rest is cut (a rendering of a part larger than any screen is no use,
/// and a command may loop).
pub const HTML_CMD_OUTPUT: u64 = 16 * 1024 * 1024;

/// Seconds a `mime-unpack --html-cmd` command may run before it is killed
/// (lynx and w3m render a large mail in well under a second).
pub const HTML_CMD_SECS: u64 = 30;

/// Largest HTTP response body read from an OAuth server (`smtp-oauth`: a
/// token, device-authorization, discovery or revocation answer). Real token
/// responses are under 4 KiB even with an OpenID `id_token`; 64 KiB bounds a
/// hostile or mistaken endpoint (an HTML page, an endless stream).
pub const OAUTH_MAX_RESPONSE: u64 = 64 * 1024;

/// Largest stored `smtp-oauth` account file read: one JSON object of URLs
/// and tokens, a few KiB.
pub const OAUTH_MAX_STORE: u64 = 64 * 1024;

/// Longest request head (request line and fields) the `smtp-oauth login`
/// loopback listener reads from the browser (RFC 8252 §7.3), and longest
/// pasted redirect URL: browsers send a few hundred bytes to a loopback
/// address; 16 KiB bounds anything else that connects.
pub const OAUTH_MAX_REDIRECT: usize = 16 * 1024;

/// Seconds a secret's command (`smtp-send --password-cmd`, `smtp-oauth
/// --store-cmd/--load-cmd`) may take by default before it is killed with
/// its process group: long enough for a pinentry prompt or a hardware
/// token, short enough that a hung `pass` or `gpg` does not hold a cron job
/// for ever (issue 17).
pub const COMMAND_TIMEOUT_SECS: u64 = 120;

/// Seconds an OAuth HTTP request (connect, send, answer) may take by
/// default (`smtp-oauth --timeout`): token endpoints answer in well under a
/// second; a hung one must not hold a `--password-cmd` forever.
pub const OAUTH_TIMEOUT_SECS: u64 = 30;

/// Tags in one DKIM tag list (RFC 6376 §3.2): a signature has 14 kinds of
/// tag (§3.5) and a key record 7 (§3.6.1); 64 leaves room for extensions
/// while bounding a hostile list.
pub const DKIM_MAX_TAGS: usize = 64;

/// DKIM-Signature fields checked per message (RFC 6376 §6.1 lets a
/// verifier limit them, §8.4 for the cost); the rest are `permerror`.
pub const DKIM_MAX_SIGNATURES: usize = 16;
