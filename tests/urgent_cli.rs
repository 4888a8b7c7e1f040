//! Urgent messages, recall and the retention policy from the command line,
//! with the real binary: a stat message listed until acknowledged and the
//! sender told, an escalation reaching the backup, a recall before and after
//! delivery, and a retention policy purging a clinician's old history.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

/// The clinicians of these walkthroughs (profile, specialty).
const WARD: &[(&str, &str)] = &[
    ("alice", "Emergency Medicine"),
    ("bob", "Internal Medicine"),
    ("carol", "Internal Medicine"),
];

/// The id in the first line that mentions `needle`: `[id] …`.
fn id_in(out: &str, needle: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in {out}"));
    line.trim_start_matches('[').split(']').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urgent_messages_recall_and_retention_from_the_cli() {
    let (db, server) = cli_world(WARD).await;
    let dir = db.dir.path().to_path_buf();
    let run = |args: &[&str]| cli_ok(&dir, &server, args);

    // A stat message alerts until acknowledged; its escalation is withdrawn.
    let sent = run(&[
        "send",
        "--profile",
        "alice",
        "--to",
        "Dr. bob",
        "--priority",
        "stat",
        "--escalate-to",
        "Dr. carol",
        "--escalate-after",
        "10m",
        "BP 70/40 in bed 4",
    ]);
    assert!(sent.contains("Accepted"), "{sent}");
    let open = run(&["urgent", "--profile", "bob"]);
    assert!(open.contains("STAT from Dr. alice: BP 70/40 in bed 4"), "{open}");
    // Just arrived and waiting: said once, not as new and again as waiting.
    assert_eq!(open.matches("BP 70/40 in bed 4").count(), 1, "{open}");
    let id = id_in(&open, "STAT from");
    let waiting = run(&["urgent", "--profile", "alice"]);
    assert!(
        waiting.contains("not yet acknowledged; escalates to Dr. carol"),
        "{waiting}"
    );
    let acked = run(&["ack", "--profile", "bob", &id]);
    assert!(acked.contains("Acknowledged"), "{acked}");
    assert!(run(&["urgent", "--profile", "bob"]).contains("No urgent or stat message"));
    let told = run(&["urgent", "--profile", "alice"]);
    assert!(told.contains("No urgent or stat message"), "{told}");
    // Withdrawn: Carol's copy is gone from the server (tests/urgent.rs waits out the delay).
    assert!(run(&["inbox", "--profile", "carol"]).contains("No new messages"));

    // Nobody acknowledges the next one: it reaches the backup, marked escalated.
    run(&[
        "send",
        "--profile",
        "alice",
        "--to",
        "Dr. bob",
        "--priority",
        "urgent",
        "--escalate-to",
        "Dr. carol",
        "--escalate-after",
        "1s",
        "K+ 7.1",
    ]);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let escalated = run(&["inbox", "--profile", "carol"]);
    assert!(escalated.contains("escalated to you"), "{escalated}");
    assert!(escalated.contains("K+ 7.1"), "{escalated}");
    assert!(escalated.contains("curbside ack"), "{escalated}");

    // A recall before delivery: Bob never sees it; after delivery: his copy goes.
    run(&["inbox", "--profile", "bob"]);
    let wrong = run(&[
        "send",
        "--profile",
        "alice",
        "--to",
        "Dr. bob",
        "wrong patient, sorry",
    ]);
    let wrong_id = wrong.split_whitespace().last().unwrap().to_owned();
    let recalled = run(&["recall", "--profile", "alice", &wrong_id]);
    assert!(recalled.contains("1 undelivered copy deleted"), "{recalled}");
    assert!(recalled.contains("may remember it"), "{recalled}");
    run(&["inbox", "--profile", "bob"]);
    let history = run(&["history", "--profile", "bob", "--with", "Dr. alice"]);
    assert!(!history.contains("wrong patient"), "{history}");
    let second = run(&["send", "--profile", "alice", "--to", "Dr. bob", "second thoughts"]);
    let second_id = second.split_whitespace().last().unwrap().to_owned();
    assert!(run(&["inbox", "--profile", "bob"]).contains("second thoughts"));
    run(&["recall", "--profile", "alice", &second_id]);
    let told = run(&["inbox", "--profile", "bob"]);
    assert!(told.contains("was recalled by its sender"), "{told}");
    let history = run(&["history", "--profile", "bob", "--with", "Dr. alice"]);
    assert!(!history.contains("second thoughts"), "{history}");
    assert!(history.contains("[message recalled]"), "{history}");

    // A message that waited two hours in the queue; then a one-hour policy:
    // the next connection purges it from Bob's history.
    run(&[
        "send",
        "--profile",
        "alice",
        "--to",
        "Dr. bob",
        "from the weekend",
    ]);
    db.execute("UPDATE queue SET sent_at = sent_at - 7200000").await;
    assert!(run(&["inbox", "--profile", "bob"]).contains("from the weekend"));
    let set = run(&["admin", "retention", "--profile", "admin", "--seconds", "3600"]);
    assert!(set.contains("deleted after 1 hour"), "{set}");
    assert!(set.contains("audit log"), "{set}");
    let purged = cli(&dir, &server, &["inbox", "--profile", "bob"]);
    assert!(
        String::from_utf8_lossy(&purged.stderr).contains("older than your organisation's retention policy"),
        "{purged:?}"
    );
    let history = run(&["history", "--profile", "bob", "--with", "Dr. alice"]);
    assert!(!history.contains("from the weekend"), "{history}");
    assert!(history.contains("[message recalled]"), "{history}");
    assert!(run(&["policy", "--profile", "bob"]).contains("deleted after 1 hour"));
    let timer = cli(
        &dir,
        &server,
        &[
            "timer",
            "--profile",
            "bob",
            "--with",
            "Dr. alice",
            "--seconds",
            "86400",
        ],
    );
    assert!(!timer.status.success());
    assert!(
        String::from_utf8_lossy(&timer.stderr).contains("at most that long"),
        "{timer:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urgent_team_message_alerts_every_member_until_one_acknowledges_it() {
    let (db, server) = cli_world(WARD).await;
    let dir = db.dir.path().to_path_buf();
    let run = |args: &[&str]| cli_ok(&dir, &server, args);
    let created = run(&[
        "team",
        "create",
        "--profile",
        "alice",
        "--name",
        "Ward 4",
        "--member",
        "Dr. bob",
        "--member",
        "Dr. carol",
    ]);
    assert!(created.contains("Created team"), "{created}");
    for who in ["bob", "carol"] {
        assert!(run(&["inbox", "--profile", who]).contains("Ward 4"));
    }
    let sent = run(&[
        "team",
        "send",
        "--profile",
        "alice",
        "--priority",
        "urgent",
        "Ward 4",
        "Bed 12 desaturating",
    ]);
    assert!(
        sent.contains("URGENT sent to team Ward 4: its 2 other member(s) are alerted"),
        "{sent}"
    );
    // Both members are alerted, with how to acknowledge.
    for who in ["bob", "carol"] {
        let inbox = run(&["inbox", "--profile", who]);
        assert!(
            inbox.contains("[URGENT] team Ward 4 from Dr. alice") && inbox.contains("Bed 12 desaturating"),
            "{inbox}"
        );
        assert!(inbox.contains("(acknowledge: curbside ack"), "{inbox}");
        let open = run(&["urgent", "--profile", who]);
        assert!(
            open.contains("URGENT from Dr. alice: Bed 12 desaturating"),
            "{open}"
        );
    }
    let waiting = run(&["urgent", "--profile", "alice"]);
    assert!(waiting.contains("not yet acknowledged"), "{waiting}");
    // Bob takes it: Alice is told who, and Carol's alert stops.
    let open = run(&["urgent", "--profile", "bob"]);
    let id = id_in(&open, "URGENT from");
    assert!(run(&["ack", "--profile", "bob", &id]).contains("Acknowledged"));
    let told = run(&["urgent", "--profile", "alice"]);
    assert!(told.contains("No urgent or stat message"), "{told}");
    let carol = run(&["inbox", "--profile", "carol"]);
    assert!(carol.contains("taken by Dr. bob, who acknowledged it"), "{carol}");
    assert!(run(&["urgent", "--profile", "carol"]).contains("No urgent or stat message"));
    // A routine team message still says what it always did.
    let routine = run(&["team", "send", "--profile", "alice", "Ward 4", "Thanks"]);
    assert!(routine.contains("Sent to team Ward 4 (3 members)"), "{routine}");
}
