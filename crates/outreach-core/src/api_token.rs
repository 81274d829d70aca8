//! What an API token of a job center's own systems may do, and how long.

/// How long a token is valid after it was made or renewed.
pub const VALID_DAYS: i64 = 365;

/// One thing a token may do. A read-only statistics scope joins this list
/// when the API offers statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiScope {
    /// `POST /api/v1/kunden/import`: customer exports in.
    Import,
    /// `GET /api/v1/ergebnisse`: results out (marks them handed over).
    Results,
}

impl ApiScope {
    pub const ALL: [ApiScope; 2] = [ApiScope::Import, ApiScope::Results];

    pub fn code(self) -> &'static str {
        match self {
            ApiScope::Import => "import",
            ApiScope::Results => "results",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ApiScope::Import => "Kundenexporte einlesen",
            ApiScope::Results => "Gesprächsergebnisse abholen",
        }
    }

    pub fn parse(code: &str) -> Option<ApiScope> {
        ApiScope::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The stored form of a set of scopes (space-separated codes).
    pub fn join(scopes: &[ApiScope]) -> String {
        ApiScope::ALL
            .into_iter()
            .filter(|s| scopes.contains(s))
            .map(ApiScope::code)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The scopes of a stored set; unknown codes are ignored.
    pub fn split(stored: &str) -> Vec<ApiScope> {
        stored
            .split_whitespace()
            .filter_map(ApiScope::parse)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip() {
        let both = ApiScope::join(&[ApiScope::Results, ApiScope::Import]);
        assert_eq!(both, "import results");
        assert_eq!(ApiScope::split(&both), ApiScope::ALL.to_vec());
        assert_eq!(
            ApiScope::split("results statistik"),
            vec![ApiScope::Results]
        );
    }
}
