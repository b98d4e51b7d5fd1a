//! The AWS artifacts of issue #17 (`crates/dist/aws/`, docs/aws.md), checked
//! by the tools people use, with no network: every tool runs in a network
//! namespace of its own with no interfaces up, and Packer's update check
//! is switched off.
//!
//! * `image.pkr.hcl`: Debian's `packer` 1.6.6 — `fmt -check`, `validate
//!   -syntax-only`, and the full `validate` (which needs no credentials for
//!   this template: it checks the schema and the files the provisioners
//!   upload, among them the shared `crates/dist/image/provision.sh`).
//! * `fleet.json`: `cfn-lint` from PyPI, in the virtualenv `tests/run`
//!   makes (`target/venv/cfn-lint`); then its values, and the role `boot`
//!   derives for each auto scaling group's tags (the real `boot plan` with
//!   the tags as `aws autoscaling describe-tags` would print them).
// In a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

use harness::{Outcome, Scratch, cmd, run};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn top() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn aws(name: &str) -> PathBuf {
    top().join("crates/dist/aws").join(name)
}

/// `program args...` in a new network namespace (nothing can leave the
/// machine), run from the repository root, without AWS credentials and
/// with Packer's checkpoint (update check) disabled. `None` when the
/// kernel refuses the namespace.
fn offline(program: &Path, args: &[&str], home: &Path) -> Option<Outcome> {
    let mut c = cmd("unshare", ["--net", "--"]);
    c.arg(program).args(args).current_dir(top());
    for v in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"] {
        c.env_remove(v);
    }
    c.env("CHECKPOINT_DISABLE", "1").env("HOME", home).env("PACKER_CACHE_DIR", home.join("packer-cache"));
    let o = run(&mut c, Duration::from_secs(300));
    if o.code == Some(1) && o.stderr.starts_with("unshare: ") {
        eprintln!("skipped: the kernel refuses a network namespace: {}", o.stderr.trim());
        return None;
    }
    Some(o)
}

fn packer() -> PathBuf {
    let p = PathBuf::from("/usr/bin/packer");
    assert!(p.exists(), "packer is not installed (tests/run installs Debian's packer)");
    p
}

#[test]
fn packer_template_is_valid() {
    let s = Scratch::new("aws-packer");
    let template = aws("image.pkr.hcl");
    let t = template.to_str().unwrap();
    let Some(o) = offline(&packer(), &["fmt", "-check", t], s.path()) else { return };
    assert_eq!(o.code, Some(0), "packer fmt -check: not in canonical form: {o:?}");
    let o = offline(&packer(), &["validate", "-syntax-only", t], s.path()).unwrap();
    assert_eq!(o.code, Some(0), "{o:?}");
    // The full validation: the schema of amazon-ebs and the provisioners,
    // and the local files they upload. The stage dir is normally made by
    // crates/dist/image/stage; its contents are not looked at here.
    let stage = s.join("stage");
    fs::create_dir_all(&stage).unwrap();
    let provision = top().join("crates/dist/image/provision.sh");
    assert!(
        provision.is_file(),
        "{} is missing (the image recipe's provisioning script)",
        provision.display()
    );
    let var = format!("stage_dir={}", stage.display());
    let o = offline(&packer(), &["validate", "-var", &var, t], s.path()).unwrap();
    assert_eq!(o.code, Some(0), "{o:?}");
    // ... which does check what it uploads.
    let var = format!("stage_dir={}", s.join("missing").display());
    let o = offline(&packer(), &["validate", "-var", &var, t], s.path()).unwrap();
    assert!(o.code != Some(0) && format!("{}{}", o.stdout, o.stderr).contains("missing"), "{o:?}");

    // What the template must say (issue #17): Debian 12's official AMI, and
    // the shared provisioning script in its systemd flavour.
    let text = harness::read(&template);
    for want in [
        "source \"amazon-ebs\" \"debian12\"",
        "owners      = [\"136693071363\"]",
        "name                = \"debian-12-amd64-*\"",
        "most_recent = true",
        "default = \"crates/dist/image/provision.sh\"",
        "sudo sh /tmp/runit-rs-provision.sh --init systemd /tmp/runit-rs-stage",
    ] {
        assert!(text.contains(want), "image.pkr.hcl lacks {want:?}");
    }
}

fn cfn_lint() -> PathBuf {
    let p = top().join("target/venv/cfn-lint/bin/cfn-lint");
    assert!(p.exists(), "{} is missing (tests/run makes the virtualenv)", p.display());
    p
}

#[test]
fn cloudformation_template_passes_cfn_lint() {
    let s = Scratch::new("aws-cfn");
    let template = aws("fleet.json");
    let Some(o) = offline(&cfn_lint(), &[template.to_str().unwrap()], s.path()) else { return };
    assert_eq!((o.code, o.stdout.as_str()), (Some(0), ""), "{o:?}");
    // cfn-lint does check the launch template: a wrong value fails.
    let broken = s.join("broken.json");
    let text = harness::read(&template).replace("\"HttpTokens\": \"required\"", "\"HttpTokens\": \"always\"");
    fs::write(&broken, text).unwrap();
    let o = offline(&cfn_lint(), &[broken.to_str().unwrap()], s.path()).unwrap();
    assert!(o.code != Some(0) && o.stdout.contains("'always' is not one of"), "{o:?}");
}

fn template() -> Value {
    serde_json::from_str(&harness::read(aws("fleet.json"))).unwrap()
}

/// The auto scaling group named `name`: its properties.
fn group(t: &Value, name: &str) -> Value {
    let resources = t["Resources"].as_object().unwrap();
    let found: Vec<&Value> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::AutoScaling::AutoScalingGroup")
        .filter(|r| r["Properties"]["AutoScalingGroupName"] == name)
        .collect();
    assert_eq!(found.len(), 1, "one group named {name}");
    found[0]["Properties"].clone()
}

fn tags(props: &Value) -> Vec<(String, String)> {
    props["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["PropagateAtLaunch"], true, "{t}: tags must reach the instances");
            (t["Key"].as_str().unwrap().to_string(), t["Value"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn launch_template_and_groups_hold_the_fleet() {
    let t = template();
    for p in ["ImageId", "Subnets", "InstanceType"] {
        assert!(t["Parameters"][p].is_object(), "parameter {p}");
    }
    let lt = &t["Resources"]["LaunchTemplate"];
    assert_eq!(lt["Type"], "AWS::EC2::LaunchTemplate");
    let md = &lt["Properties"]["LaunchTemplateData"]["MetadataOptions"];
    assert_eq!(md["HttpTokens"], "required", "IMDSv2 only");
    assert_eq!(md["InstanceMetadataTags"], "enabled", "boot reads the tags from IMDS");
    assert_eq!(md["HttpPutResponseHopLimit"], 2, "containers on the instance reach IMDS");
    assert_eq!(md["HttpEndpoint"], "enabled");
    assert_eq!(lt["Properties"]["LaunchTemplateData"]["ImageId"]["Ref"], "ImageId");

    let review = group(&t, "review-asg");
    assert_eq!(
        (&review["MinSize"], &review["MaxSize"], &review["DesiredCapacity"]),
        (&"1".into(), &"1".into(), &"1".into())
    );
    for name in ["review-asg", "prod-web-asg", "prod-worker-asg"] {
        let g = group(&t, name);
        assert_eq!(g["LaunchTemplate"]["LaunchTemplateId"]["Ref"], "LaunchTemplate", "{name}");
        assert_eq!(g["VPCZoneIdentifier"]["Ref"], "Subnets", "{name}");
        let keys: Vec<String> = tags(&g).into_iter().map(|(k, _)| k).collect();
        assert!(!keys.iter().any(|k| k == "Service"), "{name}: the service comes from the group name");
    }
}

/// The role `boot plan` gives an instance of group `name`, from the tags
/// the template gives the group, as `aws autoscaling describe-tags` prints
/// them (boot then sees the group name as `aws:autoscaling:groupName`, as
/// an instance launched by the group does in its metadata).
fn role(s: &Scratch, t: &Value, name: &str) -> String {
    let rows: Vec<Value> = tags(&group(t, name))
        .into_iter()
        .map(|(k, v)| {
            serde_json::json!({"ResourceId": name, "ResourceType": "auto-scaling-group",
                "Key": k, "Value": v, "PropagateAtLaunch": true})
        })
        .collect();
    let file = s.join(format!("{name}.json"));
    fs::write(&file, serde_json::json!({ "Tags": rows }).to_string()).unwrap();
    // The image's boot.toml as docs/aws.md says (asg_service), with a fixed
    // instance id in place of the metadata service.
    let config = s.join("boot.toml");
    fs::write(
        &config,
        "sources = [\"imds\"]\nasg_service = \"prod-{service}-asg\"\ninstance_id = \"i-0123456789abcdef0\"\n",
    )
    .unwrap();
    let mut c: Command = cmd(harness::ours("boot"), ["--root"]);
    c.arg(s.join("root")).arg("--config").arg(&config).arg("--catalogue").arg(top().join("sv-templates"));
    c.arg("--source").arg(format!("describe-tags:{}", file.display())).arg("plan");
    let o = run(&mut c, Duration::from_secs(60));
    assert_eq!(o.code, Some(0), "{name}: {o:?}");
    let field =
        |k: &str| o.stdout.lines().find_map(|l| l.strip_prefix(&format!("{k}: "))).unwrap_or("-").to_string();
    format!("{} {} {}", field("mode"), field("service"), field("component"))
}

#[test]
fn each_group_gets_its_role_from_boot() {
    let s = Scratch::new("aws-roles");
    fs::create_dir_all(s.join("root")).unwrap();
    let t = template();
    assert_eq!(role(&s, &t, "prod-web-asg"), "production web default");
    assert_eq!(role(&s, &t, "prod-worker-asg"), "production worker critical");
    assert!(role(&s, &t, "review-asg").starts_with("review "));
}
