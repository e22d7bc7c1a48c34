//! Human output: aligned tables and sizes. Data goes to stdout.
//!
//! Everything this crate prints to stdout goes through [`stdout`] (the crate's
//! `println!`/`print!` call it): when the reader of a pipe has gone away
//! (`provenant audit export | head`), the command stops quietly, with the exit
//! status a shell shows for a process killed by SIGPIPE (141), as other Unix
//! tools do; any other write error ends it with exit code 2 and says so.

use std::io::Write as _;

/// Exit status of a command whose stdout was closed: 128 + SIGPIPE, what a
/// shell reports for a tool killed by the signal.
pub const CLOSED_PIPE_EXIT: i32 = 141;

/// Write formatted text to stdout (see the module doc for a closed pipe).
pub fn stdout(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args) {
        stdout_failed(&e);
    }
}

/// Write bytes to stdout and flush them (see the module doc for a closed pipe).
pub fn stdout_bytes(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        stdout_failed(&e);
    }
}

/// Stdout cannot be written: a closed pipe ends the process quietly, any
/// other failure with a message and exit code 2.
fn stdout_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(CLOSED_PIPE_EXIT);
    }
    eprintln!("error: cannot write to stdout: {e}");
    std::process::exit(2);
}

/// Print rows as a left-aligned table with a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_owned()
    };
    let mut text = line(header.to_vec());
    text.push('\n');
    for r in rows {
        text.push_str(&line(r.iter().map(String::as_str).collect()));
        text.push('\n');
    }
    stdout_bytes(text.as_bytes());
}

pub fn json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    stdout_bytes(&text);
    Ok(())
}

/// A digest shortened for a table: the algorithm and 12 hex digits
/// (`sha256:0123456789ab`).
pub fn short_digest(d: &provenant_digest::Digest) -> String {
    let s = d.to_string();
    s.get(..19).unwrap_or(&s).to_owned()
}

/// `1.5 GiB`-style sizes.
pub fn size(bytes: i64) -> String {
    let b = bytes as f64;
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::size(512), "512 B");
        assert_eq!(super::size(3 * 1024 * 1024 / 2), "1.5 MiB");
    }
}
