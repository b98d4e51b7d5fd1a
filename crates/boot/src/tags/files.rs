//! File tag sources: the static TOML file, the JSON that `aws ec2
//! describe-tags` / `describe-instances` / `aws autoscaling describe-tags`
//! print, and the tab-separated text of the legacy EC2 API tools
//! (design notes §1.2–§1.4).
//!
//! Rows are filtered to this instance: `ResourceType == "instance"` and, when
//! the instance id is known, the matching `ResourceId`. Rows of several
//! instances without a known id, or one key with two values, are errors
//! (several resources are mixed in the file). Autoscaling-group rows count
//! only with `PropagateAtLaunch`, and the group's name becomes
//! `aws:autoscaling:groupName`, as EC2 Auto Scaling tags its instances.

use super::{Snapshot, SourceError};
use serde_json::Value;
use std::collections::BTreeMap;

/// The tag key Auto Scaling puts on its instances.
pub const ASG_KEY: &str = "aws:autoscaling:groupName";

fn invalid(what: &str, msg: impl std::fmt::Display) -> SourceError {
    SourceError::Invalid(format!("{what}: {msg}"))
}

/// The static source: `[tags]` of string values, optional `instance_id`.
pub fn parse_static(text: &str, what: &str) -> Result<Snapshot, SourceError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct StaticFile {
        instance_id: Option<String>,
        #[serde(default)]
        tags: BTreeMap<String, String>,
    }
    let f: StaticFile = toml::from_str(text).map_err(|e| invalid(what, e.message()))?;
    Ok(Snapshot { tags: f.tags, instance_id: f.instance_id })
}

/// One (resource type, resource id, key, value) row.
#[derive(Debug)]
struct Row {
    rtype: String,
    rid: String,
    key: String,
    value: String,
}

/// Collects rows into this instance's tags.
fn select(rows: Vec<Row>, known_id: Option<&str>, what: &str) -> Result<Snapshot, SourceError> {
    let mut instances: Vec<&str> =
        rows.iter().filter(|r| r.rtype == "instance").map(|r| r.rid.as_str()).collect();
    instances.sort_unstable();
    instances.dedup();
    let chosen = match known_id {
        Some(id) => Some(id.to_string()),
        None if instances.len() > 1 => {
            return Err(invalid(
                what,
                format!("tags of several instances ({}) and no instance id", instances.join(", ")),
            ));
        }
        None => instances.first().map(|s| s.to_string()),
    };
    let mut groups: Vec<&str> =
        rows.iter().filter(|r| r.rtype == "auto-scaling-group").map(|r| r.rid.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    if groups.len() > 1 {
        return Err(invalid(what, format!("tags of several autoscaling groups ({})", groups.join(", "))));
    }
    let mut tags = BTreeMap::new();
    let mut put = |k: &str, v: &str| -> Result<(), SourceError> {
        match tags.get(k) {
            Some(old) if old != v => Err(invalid(what, format!("tag {k:?} has two different values"))),
            _ => {
                tags.insert(k.to_string(), v.to_string());
                Ok(())
            }
        }
    };
    // Group tags first: the instance's own tags win over propagated ones.
    if let Some(g) = groups.first() {
        put(ASG_KEY, g)?;
    }
    for r in rows.iter().filter(|r| r.rtype == "auto-scaling-group") {
        put(&r.key, &r.value)?;
    }
    let mut own = BTreeMap::new();
    for r in rows.iter().filter(|r| r.rtype == "instance" && Some(&r.rid) == chosen.as_ref()) {
        if own.insert(r.key.clone(), r.value.clone()).is_some_and(|old| old != r.value) {
            return Err(invalid(what, format!("tag {:?} has two different values", r.key)));
        }
    }
    for (k, v) in own {
        tags.insert(k, v);
    }
    Ok(Snapshot { tags, instance_id: chosen.filter(|_| !instances.is_empty()) })
}

fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// `describe-tags` (EC2 or autoscaling) or `describe-instances` JSON.
pub fn parse_describe(text: &str, known_id: Option<&str>, what: &str) -> Result<Snapshot, SourceError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| invalid(what, e))?;
    let mut rows = Vec::new();
    if let Some(list) = doc.get("Tags").and_then(Value::as_array) {
        for t in list {
            let (Some(key), Some(value)) = (str_field(t, "Key"), str_field(t, "Value")) else {
                return Err(invalid(what, "a Tags entry without Key or Value"));
            };
            let rtype = str_field(t, "ResourceType").unwrap_or("instance");
            if rtype == "auto-scaling-group"
                && t.get("PropagateAtLaunch").and_then(Value::as_bool) != Some(true)
            {
                continue;
            }
            let rid = str_field(t, "ResourceId").unwrap_or("").to_string();
            rows.push(Row { rtype: rtype.to_string(), rid, key: key.into(), value: value.into() });
        }
    } else if let Some(res) = doc.get("Reservations").and_then(Value::as_array) {
        for inst in res.iter().filter_map(|r| r.get("Instances").and_then(Value::as_array)).flatten() {
            let rid = str_field(inst, "InstanceId").unwrap_or("").to_string();
            for t in inst.get("Tags").and_then(Value::as_array).into_iter().flatten() {
                let (Some(key), Some(value)) = (str_field(t, "Key"), str_field(t, "Value")) else {
                    return Err(invalid(what, "a Tags entry without Key or Value"));
                };
                rows.push(Row {
                    rtype: "instance".into(),
                    rid: rid.clone(),
                    key: key.into(),
                    value: value.into(),
                });
            }
        }
    } else {
        return Err(invalid(
            what,
            "neither a describe-tags (\"Tags\") nor a describe-instances (\"Reservations\") document",
        ));
    }
    select(rows, known_id, what)
}

/// Resource types the legacy tools print.
const RESOURCE_TYPES: [&str; 12] = [
    "instance",
    "image",
    "volume",
    "snapshot",
    "reserved-instances",
    "spot-instances-request",
    "customer-gateway",
    "dhcp-options",
    "internet-gateway",
    "network-acl",
    "security-group",
    "vpc",
];

/// `TAG<TAB>instance<TAB>i-…<TAB>key<TAB>value` (or id before type, as
/// Eucalyptus prints it). The value is everything after the fourth tab.
pub fn parse_legacy(text: &str, known_id: Option<&str>, what: &str) -> Result<Snapshot, SourceError> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let mut f = line.splitn(5, '\t');
        let (Some("TAG"), Some(a), Some(b), Some(key)) = (f.next(), f.next(), f.next(), f.next()) else {
            return Err(invalid(what, format!("line {}: not a TAG row", n + 1)));
        };
        let value = f.next().unwrap_or("");
        let (rtype, rid) = if RESOURCE_TYPES.contains(&a) {
            (a, b)
        } else if RESOURCE_TYPES.contains(&b) {
            (b, a)
        } else {
            return Err(invalid(what, format!("line {}: no known resource type", n + 1)));
        };
        rows.push(Row { rtype: rtype.into(), rid: rid.into(), key: key.into(), value: value.into() });
    }
    select(rows, known_id, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESCRIBE: &str = r#"{"Tags":[
      {"Key":"Service","ResourceId":"i-1","ResourceType":"instance","Value":"worker"},
      {"Key":"Mode","ResourceId":"i-1","ResourceType":"instance","Value":"production"},
      {"Key":"Mode","ResourceId":"i-2","ResourceType":"instance","Value":"review"},
      {"Key":"Team","ResourceId":"vol-1","ResourceType":"volume","Value":"x"}]}"#;

    #[test]
    fn describe_tags_filters_by_instance() {
        let s = parse_describe(DESCRIBE, Some("i-1"), "f").expect("parse");
        assert_eq!(s.tags.get("Mode").map(String::as_str), Some("production"));
        assert_eq!(s.tags.len(), 2);
        assert!(matches!(parse_describe(DESCRIBE, None, "f"), Err(SourceError::Invalid(_))));
    }

    #[test]
    fn autoscaling_and_instances() {
        let asg = r#"{"Tags":[{"ResourceId":"prod-worker-asg","ResourceType":"auto-scaling-group","Key":"Mode","Value":"production","PropagateAtLaunch":true},
          {"ResourceId":"prod-worker-asg","ResourceType":"auto-scaling-group","Key":"Cost","Value":"x","PropagateAtLaunch":false}]}"#;
        let s = parse_describe(asg, None, "f").expect("asg");
        assert_eq!(s.tags.get(ASG_KEY).map(String::as_str), Some("prod-worker-asg"));
        assert_eq!(s.tags.get("Mode").map(String::as_str), Some("production"));
        assert!(!s.tags.contains_key("Cost"));
        let di = r#"{"Reservations":[{"Instances":[{"InstanceId":"i-9","Tags":[{"Key":"Mode","Value":"staging"}]}]}]}"#;
        let s = parse_describe(di, None, "f").expect("instances");
        assert_eq!(s.instance_id.as_deref(), Some("i-9"));
        assert_eq!(s.tags.get("Mode").map(String::as_str), Some("staging"));
        assert!(parse_describe("{\"x\":1}", None, "f").is_err());
        assert!(parse_describe("not json", None, "f").is_err());
    }

    #[test]
    fn legacy_both_column_orders() {
        let a = parse_legacy("TAG\tinstance\ti-1\tMode\treview\nTAG\tinstance\ti-1\tNote\ta\tb\n", None, "f")
            .expect("aws order");
        let b =
            parse_legacy("TAG\ti-1\tinstance\tMode\treview\r\nTAG\ti-1\tinstance\tNote\ta\tb\n", None, "f")
                .expect("euca order");
        assert_eq!(a.tags, b.tags);
        assert_eq!(a.tags.get("Note").map(String::as_str), Some("a\tb"));
        assert!(parse_legacy("garbage\n", None, "f").is_err());
    }

    #[test]
    fn static_file() {
        let s = parse_static("instance_id = \"i-7\"\n[tags]\nMode = \"review\"\n", "f").expect("static");
        assert_eq!(s.instance_id.as_deref(), Some("i-7"));
        assert!(parse_static("[tags]\nMode = 1\n", "f").is_err());
    }
}
