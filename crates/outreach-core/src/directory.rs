//! Sign-in through the organisation's directory, as rules: directory groups
//! mapped to a role and an organisation, the one mapping a user in several
//! groups gets, nested groups followed to a bounded depth, and the share of
//! users a directory sync may deactivate at once.

use crate::access::Role;
use std::collections::{BTreeMap, BTreeSet};

/// A directory group's distinguished name as compared: lower case, without
/// the spaces around `,` and `=` that people and directories write
/// differently (`CN=Agenten, OU=Gruppen` = `cn=agenten,ou=gruppen`).
pub fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            format!("{}={}", name.trim(), value.trim())
        })
        .collect::<Vec<_>>()
        .join(",")
        .to_lowercase()
}

/// One row of the configuration's group table: members of `group` get
/// `role` at the organisation with the code `organisation` (none for the
/// system administration and a DPO of all job centers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRule {
    /// Normalised ([`normalize_dn`]).
    pub group: String,
    pub role: Role,
    pub organisation: Option<String>,
    /// A user in several mapped groups gets the rule with the highest.
    pub precedence: i64,
}

/// Checks the table: each group once, each precedence once (so the choice
/// for a user in several groups is never left to chance). German messages
/// naming the row (1-based).
pub fn check_rules(rules: &[GroupRule]) -> Result<(), String> {
    if rules.is_empty() {
        return Err(
            "Die Gruppentabelle des Verzeichnisses ist leer: ohne zugeordnete Gruppe kann sich niemand anmelden."
                .into(),
        );
    }
    for (i, rule) in rules.iter().enumerate() {
        let row = i + 1;
        if rule.group.is_empty() {
            return Err(format!("Gruppe {row}: der Name (DN) der Gruppe fehlt."));
        }
        let global = matches!(
            rule.role.org_kind(),
            crate::access::OrgKind::Global | crate::access::OrgKind::JobCenterOrGlobal
        );
        if rule.organisation.is_none() && !global {
            return Err(format!(
                "Gruppe {row} ({}): die Rolle „{}“ braucht eine Organisation (Kennung des Jobcenters oder Service-Centers).",
                rule.group,
                rule.role.label()
            ));
        }
        if let Some(earlier) = rules[..i].iter().position(|r| r.group == rule.group) {
            return Err(format!(
                "Gruppe {row} ({}) steht schon in Zeile {} der Gruppentabelle.",
                rule.group,
                earlier + 1
            ));
        }
        if let Some(earlier) = rules[..i]
            .iter()
            .position(|r| r.precedence == rule.precedence)
        {
            return Err(format!(
                "Gruppe {row} ({}) hat denselben Vorrang {} wie Gruppe {}: jeder Vorrang darf nur einmal vorkommen.",
                rule.group,
                rule.precedence,
                earlier + 1
            ));
        }
    }
    Ok(())
}

/// The rule for a member of `groups` (normalised): the mapped group with the
/// highest precedence; `None` when no group of theirs is mapped.
pub fn choose<'a>(rules: &'a [GroupRule], groups: &BTreeSet<String>) -> Option<&'a GroupRule> {
    rules
        .iter()
        .filter(|rule| groups.contains(&rule.group))
        .max_by_key(|rule| rule.precedence)
}

/// Groups that contain themselves through their members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle(pub Vec<String>);

impl std::fmt::Display for Cycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Die Gruppen im Verzeichnis sind im Kreis verschachtelt: {}",
            self.0.join(" → ")
        )
    }
}

/// Every group a member of `direct` belongs to, its groups' groups included,
/// following `parents` (a group → the groups it is a member of) to `depth`
/// levels above the direct ones. A group that, through its parents, is its
/// own member is refused: such a directory is misconfigured, and guessing
/// would give someone a role by accident.
pub fn closure(
    direct: &BTreeSet<String>,
    parents: &BTreeMap<String, BTreeSet<String>>,
    depth: usize,
) -> Result<BTreeSet<String>, Cycle> {
    fn walk(
        group: &str,
        parents: &BTreeMap<String, BTreeSet<String>>,
        left: usize,
        path: &mut Vec<String>,
        found: &mut BTreeSet<String>,
    ) -> Result<(), Cycle> {
        if let Some(at) = path.iter().position(|g| g == group) {
            let mut cycle = path[at..].to_vec();
            cycle.push(group.to_string());
            return Err(Cycle(cycle));
        }
        found.insert(group.to_string());
        if left == 0 {
            return Ok(());
        }
        path.push(group.to_string());
        for parent in parents.get(group).into_iter().flatten() {
            walk(parent, parents, left - 1, path, found)?;
        }
        path.pop();
        Ok(())
    }
    let mut found = BTreeSet::new();
    for group in direct {
        walk(group, parents, depth, &mut Vec::new(), &mut found)?;
    }
    Ok(found)
}

/// Whether a sync deactivating `deactivating` of `active` directory users
/// stays within `max_percent`: more is more likely a wrong mapping or a
/// wrong search base than people leaving, and locks everyone out.
pub fn within_share(deactivating: usize, active: usize, max_percent: u32) -> bool {
    deactivating == 0 || deactivating * 100 <= active * usize::try_from(max_percent).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn rule(group: &str, role: Role, precedence: i64) -> GroupRule {
        GroupRule {
            group: group.into(),
            role,
            organisation: Some("SC-HH".into()),
            precedence,
        }
    }

    #[test]
    fn dns_compare_without_case_and_spaces() {
        assert_eq!(
            normalize_dn("CN=SC-Hamburg-Agenten, OU=Gruppen ,DC=example"),
            "cn=sc-hamburg-agenten,ou=gruppen,dc=example"
        );
    }

    #[test]
    fn the_highest_precedence_wins_and_no_group_is_none() {
        let rules = [
            rule("cn=agenten", Role::Agent, 10),
            rule("cn=leitung", Role::Supervisor, 20),
        ];
        assert!(check_rules(&rules).is_ok());
        let both = set(&["cn=agenten", "cn=leitung", "cn=other"]);
        assert_eq!(choose(&rules, &both).unwrap().role, Role::Supervisor);
        assert_eq!(
            choose(&rules, &set(&["cn=agenten"])).unwrap().role,
            Role::Agent
        );
        assert_eq!(choose(&rules, &set(&["cn=other"])), None);
    }

    #[test]
    fn the_table_refuses_ties_doubles_and_missing_organisations() {
        let tie = [
            rule("cn=a", Role::Agent, 10),
            rule("cn=b", Role::Supervisor, 10),
        ];
        assert!(check_rules(&tie).unwrap_err().contains("denselben Vorrang"));
        let double = [rule("cn=a", Role::Agent, 10), rule("cn=a", Role::Agent, 20)];
        assert!(check_rules(&double).unwrap_err().contains("steht schon"));
        let mut no_org = rule("cn=a", Role::Agent, 10);
        no_org.organisation = None;
        assert!(
            check_rules(&[no_org])
                .unwrap_err()
                .contains("braucht eine Organisation")
        );
        let mut admin = rule("cn=admins", Role::Admin, 10);
        admin.organisation = None;
        assert!(check_rules(&[admin]).is_ok());
        assert!(check_rules(&[]).is_err());
    }

    #[test]
    fn nested_groups_to_a_bounded_depth_and_cycles_refused() {
        let mut parents = BTreeMap::new();
        parents.insert("cn=team".to_string(), set(&["cn=abteilung"]));
        parents.insert("cn=abteilung".to_string(), set(&["cn=haus"]));
        let all = closure(&set(&["cn=team"]), &parents, 5).unwrap();
        assert_eq!(all, set(&["cn=team", "cn=abteilung", "cn=haus"]));
        let shallow = closure(&set(&["cn=team"]), &parents, 1).unwrap();
        assert_eq!(shallow, set(&["cn=team", "cn=abteilung"]));
        parents.insert("cn=haus".to_string(), set(&["cn=team"]));
        let cycle = closure(&set(&["cn=team"]), &parents, 5).unwrap_err();
        assert_eq!(
            cycle.0,
            vec!["cn=team", "cn=abteilung", "cn=haus", "cn=team"]
        );
        // A diamond is no cycle.
        let mut diamond = BTreeMap::new();
        diamond.insert("cn=a".to_string(), set(&["cn=b", "cn=c"]));
        diamond.insert("cn=b".to_string(), set(&["cn=d"]));
        diamond.insert("cn=c".to_string(), set(&["cn=d"]));
        assert_eq!(closure(&set(&["cn=a"]), &diamond, 5).unwrap().len(), 4);
    }

    #[test]
    fn the_share_guard() {
        assert!(within_share(0, 0, 10));
        assert!(within_share(1, 10, 10));
        assert!(!within_share(2, 10, 10));
        assert!(!within_share(1, 0, 10));
    }
}
