//! Unit tests of capability sets: name parsing, Docker's default set and cap-add/cap-drop
//! semantics. Pure: no root needed.

use skiff_sys::caps::{CapSet, LAST_KNOWN_CAP};

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn parse_name_accepts_all_spellings() {
    assert_eq!(CapSet::parse_name("NET_ADMIN").unwrap(), 12);
    assert_eq!(CapSet::parse_name("CAP_NET_ADMIN").unwrap(), 12);
    assert_eq!(CapSet::parse_name("net_admin").unwrap(), 12);
    assert_eq!(CapSet::parse_name("cap_chown").unwrap(), 0);
    assert_eq!(CapSet::parse_name("CHECKPOINT_RESTORE").unwrap(), 40);
    let err = CapSet::parse_name("CAP_FLY").unwrap_err();
    assert!(err.to_string().contains("CAP_FLY"), "{err}");
    assert!(CapSet::parse_name("ALL").is_err());
}

#[test]
fn names_round_trip() {
    for n in 0..=LAST_KNOWN_CAP {
        assert_eq!(CapSet::parse_name(&CapSet::name_of(n)).unwrap(), n);
    }
}

#[test]
fn docker_default_is_thirteen_without_net_raw() {
    let set = CapSet::docker_default();
    assert_eq!(set.len(), 13);
    assert!(!set.contains(CapSet::parse_name("NET_RAW").unwrap()));
    assert!(!set.contains(CapSet::parse_name("SYS_ADMIN").unwrap()));
    assert!(set.contains(CapSet::parse_name("AUDIT_WRITE").unwrap()));
    assert_eq!(set.bits(), 0xa804_05fb);
    assert_eq!(set.names()[0], "CAP_CHOWN");
}

#[test]
fn all_covers_kernel_caps() {
    assert_eq!(CapSet::all_up_to(40).len(), 41);
    assert_eq!(CapSet::all_up_to(63).bits(), u64::MAX);
    assert!(CapSet::all().len() >= 38);
}

#[test]
fn apply_changes_add_and_drop() {
    let base = CapSet::docker_default();
    let got = base
        .apply_changes(&strings(&["NET_ADMIN"]), &strings(&["cap_chown", "KILL"]))
        .unwrap();
    assert!(got.contains(12));
    assert!(!got.contains(0));
    assert!(!got.contains(5));
    assert_eq!(got.len(), 12);
    // A cap both dropped and added ends up present (drop first, then add).
    let both = base
        .apply_changes(&strings(&["CHOWN"]), &strings(&["CHOWN"]))
        .unwrap();
    assert_eq!(both, base);
    assert_eq!(base.apply_changes(&[], &[]).unwrap(), base);
}

#[test]
fn apply_changes_all() {
    let base = CapSet::docker_default();
    let everything_but = base
        .apply_changes(&strings(&["all"]), &strings(&["SYS_ADMIN"]))
        .unwrap();
    assert_eq!(everything_but.len(), CapSet::all().len() - 1);
    assert!(!everything_but.contains(21));
    let only = base
        .apply_changes(&strings(&["NET_BIND_SERVICE"]), &strings(&["ALL"]))
        .unwrap();
    assert_eq!(only.names(), vec!["CAP_NET_BIND_SERVICE".to_string()]);
    assert!(base
        .apply_changes(&[], &strings(&["ALL"]))
        .unwrap()
        .is_empty());
    let err = base.apply_changes(&strings(&["BOGUS"]), &[]).unwrap_err();
    assert!(err.to_string().contains("BOGUS"));
}
