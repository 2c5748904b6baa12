//! Timestamps: XML Schema `dateTimeStamp` text (as Data Integrity proofs
//! use for `created`) and Unix seconds.
//!
//! Our own documents always write the UTC form `YYYY-MM-DDTHH:MM:SSZ`
//! ([`format_utc`]). [`parse_datetime`] reads any `dateTimeStamp` with a
//! four-digit year: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm)` (the time
//! zone is required; 24:00:00 and leap seconds are refused).

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a date-time of the form YYYY-MM-DDTHH:MM:SSZ: {why}")]
pub struct TimeError {
    /// The text (at most 40 characters of it).
    pub text: String,
    /// What is wrong.
    pub why: &'static str,
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let mp = i64::from((m + 9) % 12); // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day number since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`. Years outside
/// 0000..=9999 are clamped to that range's ends (not a real concern: a
/// timestamp comes from a clock or from [`parse_datetime`]).
pub fn format_utc(unix: i64) -> String {
    const MIN: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let t = unix.clamp(MIN, MAX);
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Parses an XML Schema `dateTimeStamp` (time zone required) into Unix
/// seconds (any fraction is dropped).
///
/// # Errors
///
/// A [`TimeError`] saying what is wrong.
pub fn parse_datetime(text: &str) -> Result<i64, TimeError> {
    let err = |why| TimeError {
        text: text.chars().take(40).collect(),
        why,
    };
    let b = text.as_bytes();
    if b.len() < 20 || b.len() > 40 {
        return Err(err("wrong length"));
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32, TimeError> {
        let s = b.get(r).ok_or_else(|| err("truncated"))?;
        if !s.iter().all(u8::is_ascii_digit) {
            return Err(err("expected digits"));
        }
        Ok(s.iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0')))
    };
    let sep = |i: usize, c: u8, why| {
        if b.get(i) == Some(&c) {
            Ok(())
        } else {
            Err(err(why))
        }
    };
    let year = i64::from(num(0..4)?);
    sep(4, b'-', "expected '-' after the year")?;
    let month = num(5..7)?;
    sep(7, b'-', "expected '-' after the month")?;
    let day = num(8..10)?;
    sep(10, b'T', "expected 'T' between date and time")?;
    let hour = num(11..13)?;
    sep(13, b':', "expected ':' after the hour")?;
    let minute = num(14..16)?;
    sep(16, b':', "expected ':' after the minutes")?;
    let second = num(17..19)?;
    if !(1..=12).contains(&month) {
        return Err(err("month out of range"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(err("day out of range"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(err("time out of range"));
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err(err("expected digits after '.'"));
        }
    }
    let offset: i64 = match b.get(i) {
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(&s @ (b'+' | b'-')) if i + 6 == b.len() => {
            let oh = num(i + 1..i + 3)?;
            sep(i + 3, b':', "expected ':' in the time zone")?;
            let om = num(i + 4..i + 6)?;
            if oh > 14 || om > 59 || (oh == 14 && om > 0) {
                return Err(err("time zone out of range"));
            }
            let o = i64::from(oh * 3600 + om * 60);
            if s == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return Err(err("expected a time zone: 'Z' or ±hh:mm at the end")),
    };
    let days = days_from_civil(year, month, day);
    Ok(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset)
}

/// Whether `text` is exactly the canonical UTC form `YYYY-MM-DDTHH:MM:SSZ`
/// of a valid instant.
pub fn is_canonical_utc(text: &str) -> bool {
    text.len() == 20 && parse_datetime(text).is_ok_and(|t| format_utc(t) == text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_677_281_798), "2023-02-24T23:36:38Z");
        assert_eq!(parse_datetime("2023-02-24T23:36:38Z"), Ok(1_677_281_798));
        assert_eq!(
            parse_datetime("2023-02-25T01:36:38.123+02:00"),
            Ok(1_677_281_798)
        );
        assert_eq!(parse_datetime("2000-02-29T00:00:00Z"), Ok(951_782_400));
        assert!(is_canonical_utc("2024-12-31T23:59:59Z"));
        assert!(!is_canonical_utc("2024-12-31T23:59:59+00:00"));
    }

    #[test]
    fn refusals() {
        for bad in [
            "2023-02-24T23:36:38",
            "2023-02-24 23:36:38Z",
            "2023-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2023-01-01T24:00:00Z",
            "2023-01-01T23:60:00Z",
            "2023-01-01T23:59:60Z",
            "2023-01-01T00:00:00.Z",
            "2023-01-01T00:00:00+15:00",
            "2023-01-01T00:00:00Zjunk",
            "+2023-01-01T00:00:00Z",
            "２０２３-01-01T00:00:00Z",
            "",
        ] {
            assert!(parse_datetime(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trip(t in -62_167_219_200i64..=253_402_300_799) {
            let s = format_utc(t);
            prop_assert_eq!(parse_datetime(&s), Ok(t));
            prop_assert!(is_canonical_utc(&s));
        }
    }
}
