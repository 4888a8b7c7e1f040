//! National Provider Identifier (NPI) validation.
//!
//! An NPI is 10 digits whose last digit is a Luhn check digit computed over
//! the prefix `80840` followed by the first nine digits (CMS, "Requirements
//! for Check Digit", 2005).

/// Returns true if `npi` is 10 ASCII digits with a valid check digit.
#[must_use]
pub fn is_valid(npi: &str) -> bool {
    let digits: Vec<u32> = npi.chars().filter_map(|c| c.to_digit(10)).collect();
    if npi.len() != 10 || digits.len() != 10 {
        return false;
    }
    let (body, check) = digits.split_at(9);
    // Luhn over "80840" ‖ body: the prefix contributes a constant 24.
    let mut sum = 24;
    for (i, d) in body.iter().rev().enumerate() {
        sum += if i % 2 == 0 {
            let doubled = d * 2;
            if doubled > 9 {
                doubled - 9
            } else {
                doubled
            }
        } else {
            *d
        };
    }
    check.first().is_some_and(|c| (10 - sum % 10) % 10 == *c)
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn cms_example_and_known_numbers() {
        // The example in the CMS check-digit document.
        assert!(is_valid("1234567893"));
        assert!(is_valid("1245319599"));
        assert!(!is_valid("1234567890"));
        assert!(!is_valid("123456789"));
        assert!(!is_valid("12345678931"));
        assert!(!is_valid("12345６7893"));
        assert!(!is_valid("abcdefghij"));
    }
}
