//! Writing to standard output without panicking when the reader goes away
//! (`btl … | head`).

use std::io::Write;

/// Prints `text` to standard output; a closed pipe is not an error.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
