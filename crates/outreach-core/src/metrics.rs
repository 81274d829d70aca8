//! Campaign figures: final cases counted by AAPOR class and the response,
//! cooperation, refusal and contact rates of DOMAIN.md. Pure.

use crate::campaign::FinalDisposition;

/// Final cases per AAPOR class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AaporCounts {
    /// I: complete interview.
    pub complete: i64,
    /// P: partial.
    pub partial: i64,
    /// R: refusal and break-off.
    pub refusal: i64,
    /// NC: non-contact.
    pub non_contact: i64,
    /// O: other.
    pub other: i64,
    /// UH: unknown if household (here: no valid number).
    pub unknown_household: i64,
    /// UO: unknown, other.
    pub unknown_other: i64,
    /// NE: not eligible.
    pub not_eligible: i64,
}

impl AaporCounts {
    /// Adds `n` cases of a final disposition (an unknown code counts as UO).
    pub fn add(&mut self, disposition: &str, n: i64) {
        let class = FinalDisposition::parse(disposition).map_or("UO", FinalDisposition::aapor);
        let slot = match class {
            "I" => &mut self.complete,
            "P" => &mut self.partial,
            "R" => &mut self.refusal,
            "NC" => &mut self.non_contact,
            "O" => &mut self.other,
            "UH" => &mut self.unknown_household,
            "NE" => &mut self.not_eligible,
            _ => &mut self.unknown_other,
        };
        *slot += n;
    }

    /// I+P+R+NC+O+UH+UO: the denominator of RR1, RR2, REF1 and CON1.
    fn eligible_or_unknown(&self) -> i64 {
        self.complete
            + self.partial
            + self.refusal
            + self.non_contact
            + self.other
            + self.unknown_household
            + self.unknown_other
    }

    /// RR1 = I / (I+P+R+NC+O+UH+UO).
    pub fn rr1(&self) -> Option<f64> {
        ratio(self.complete, self.eligible_or_unknown())
    }

    /// RR2 = (I+P) / (I+P+R+NC+O+UH+UO).
    pub fn rr2(&self) -> Option<f64> {
        ratio(self.complete + self.partial, self.eligible_or_unknown())
    }

    /// COOP1 = I / (I+P+R+O).
    pub fn coop1(&self) -> Option<f64> {
        ratio(
            self.complete,
            self.complete + self.partial + self.refusal + self.other,
        )
    }

    /// REF1 = R / (I+P+R+NC+O+UH+UO).
    pub fn ref1(&self) -> Option<f64> {
        ratio(self.refusal, self.eligible_or_unknown())
    }

    /// CON1 = (I+P+R+O) / (I+P+R+NC+O+UH+UO).
    pub fn con1(&self) -> Option<f64> {
        ratio(
            self.complete + self.partial + self.refusal + self.other,
            self.eligible_or_unknown(),
        )
    }
}

/// `part / whole`, or `None` when there is nothing to divide by.
pub fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// A share as German percent text with one decimal ("7,0 %"), "–" for none.
pub fn percent_de(share: Option<f64>) -> String {
    match share {
        Some(s) => format!("{:.1} %", s * 100.0).replace('.', ","),
        None => "–".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed set of cases; the expected rates are worked out by hand from
    /// the formulas in DOMAIN.md, not taken from the program.
    #[test]
    fn rates_match_the_formulas() {
        let mut c = AaporCounts::default();
        for (code, n) in [
            ("confirmed", 30),      // I
            ("updated", 20),        // I  -> I = 50
            ("partial", 5),         // P = 5
            ("refused", 10),        // R
            ("objection", 5),       // R  -> R = 15
            ("not_reached", 20),    // NC = 20
            ("identity_failed", 4), // O = 4
            ("no_valid_number", 6), // UH = 6
            ("not_responsible", 7), // NE = 7, in no rate
        ] {
            c.add(code, n);
        }
        // Denominator: 50 + 5 + 15 + 20 + 4 + 6 + 0 = 100.
        assert_eq!(c.rr1(), Some(0.50));
        assert_eq!(c.rr2(), Some(0.55));
        // COOP1 = 50 / (50 + 5 + 15 + 4) = 50 / 74.
        assert_eq!(c.coop1(), Some(50.0 / 74.0));
        assert_eq!(c.ref1(), Some(0.15));
        // CON1 = (50 + 5 + 15 + 4) / 100.
        assert_eq!(c.con1(), Some(0.74));
        assert_eq!(c.not_eligible, 7);
        assert_eq!(percent_de(c.coop1()), "67,6 %");
    }

    #[test]
    fn no_cases_no_rates() {
        let c = AaporCounts::default();
        assert_eq!(c.rr1(), None);
        assert_eq!(c.coop1(), None);
        assert_eq!(percent_de(c.rr1()), "–");
    }
}
