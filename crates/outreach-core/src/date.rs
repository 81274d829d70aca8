//! German date and time formats (`TT.MM.JJJJ`, `HH:MM Uhr`) and the conversion of
//! stored instants (UTC seconds) into Europe/Berlin for display.

use jiff::{Timestamp, civil::Date, tz::TimeZone};

/// Why a date is refused; the message is German and names the expected format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("Bitte geben Sie ein Datum im Format TT.MM.JJJJ an.")]
    Format,
    #[error("Dieses Datum gibt es nicht.")]
    Impossible,
}

/// Parses `TT.MM.JJJJ` (leading zeros optional) into a calendar date.
pub fn parse_de_date(raw: &str) -> Result<Date, DateError> {
    let mut parts = raw.trim().split('.');
    let (Some(d), Some(m), Some(y), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(DateError::Format);
    };
    let num = |s: &str, max_len: usize| -> Result<i16, DateError> {
        if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DateError::Format);
        }
        s.parse::<i16>().map_err(|_| DateError::Format)
    };
    let (day, month) = (num(d, 2)?, num(m, 2)?);
    if y.len() != 4 {
        return Err(DateError::Format);
    }
    let year = num(y, 4)?;
    let (Ok(month), Ok(day)) = (i8::try_from(month), i8::try_from(day)) else {
        return Err(DateError::Impossible);
    };
    Date::new(year, month, day).map_err(|_| DateError::Impossible)
}

/// `TT.MM.JJJJ`.
pub fn format_de_date(date: Date) -> String {
    date.strftime("%d.%m.%Y").to_string()
}

/// Parses the ISO form the database keeps dates in (`JJJJ-MM-TT`).
pub fn parse_iso_date(raw: &str) -> Option<Date> {
    raw.parse::<Date>().ok()
}

/// An ISO date as `TT.MM.JJJJ`; unreadable values are shown as they are.
pub fn iso_to_de(raw: &str) -> String {
    parse_iso_date(raw).map_or_else(|| raw.to_string(), format_de_date)
}

pub(crate) fn berlin() -> TimeZone {
    TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC)
}

/// The calendar day in Europe/Berlin at the instant `unix_seconds`.
pub fn berlin_date(unix_seconds: i64) -> Date {
    Timestamp::from_second(unix_seconds)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned(berlin())
        .date()
}

/// An instant as `TT.MM.JJJJ, HH:MM Uhr` in Europe/Berlin.
pub fn format_de_datetime(unix_seconds: i64) -> String {
    let zoned = Timestamp::from_second(unix_seconds)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned(berlin());
    zoned.strftime("%d.%m.%Y, %H:%M Uhr").to_string()
}

/// The start (00:00 Europe/Berlin) of a calendar day, as unix seconds.
pub fn berlin_day_start(date: Date) -> i64 {
    date.to_zoned(berlin())
        .map_or(0, |z| z.timestamp().as_second())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn german_dates() {
        assert_eq!(parse_de_date("01.02.1980"), Ok(date(1980, 2, 1)));
        assert_eq!(parse_de_date(" 1.2.1980 "), Ok(date(1980, 2, 1)));
        assert_eq!(parse_de_date("31.02.1980"), Err(DateError::Impossible));
        assert_eq!(parse_de_date("1980-02-01"), Err(DateError::Format));
        assert_eq!(parse_de_date("01.02.80"), Err(DateError::Format));
        assert_eq!(parse_de_date(""), Err(DateError::Format));
        assert_eq!(format_de_date(date(2026, 3, 9)), "09.03.2026");
    }

    #[test]
    fn instants_shown_in_berlin_time_across_daylight_saving() {
        // 2026-01-15 11:00 UTC = 12:00 CET; 2026-07-15 11:00 UTC = 13:00 CEST.
        assert_eq!(format_de_datetime(1_768_474_800), "15.01.2026, 12:00 Uhr");
        assert_eq!(format_de_datetime(1_784_113_200), "15.07.2026, 13:00 Uhr");
    }
}

/// Serde for a [`Date`] as an ISO string (`#[serde(with = "serde_iso")]`).
pub mod serde_iso {
    use jiff::civil::Date;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&date.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let raw = String::deserialize(d)?;
        super::parse_iso_date(&raw)
            .ok_or_else(|| serde::de::Error::custom(format!("no ISO date: {raw}")))
    }
}

/// Serde for an optional [`Date`] as an ISO string or null.
pub mod serde_iso_opt {
    use jiff::civil::Date;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match date {
            Some(d) => s.serialize_str(&d.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(raw) => super::parse_iso_date(&raw)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("no ISO date: {raw}"))),
        }
    }
}
