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
