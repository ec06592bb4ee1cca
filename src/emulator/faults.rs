//! Fault injection by rule, for exercising clients' error handling: a rule
//! selects Graph requests (path glob, method) and a trigger (the nth matching
//! request, a probability, at most `times` firings), and says what goes wrong:
//! a 5xx status, added latency, an empty page that still carries a nextLink, or
//! a dropped connection.
//!
//! Deterministic under a seed: every rule draws from its own generator, seeded
//! from the set's seed and the rule's position, so a rule's decisions depend
//! only on the sequence of requests it matched, never on other rules. Setting
//! the rules (or `POST /_auditgraph/reset`) restarts counters and generators.

use std::sync::Mutex;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// What goes wrong when a rule fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "kebab-case")]
pub enum Fault {
    /// Answer with this status (500–599) in Graph's error envelope, without
    /// calling the handler; `retryAfter` adds that header (seconds).
    Status {
        status: u16,
        #[serde(default, rename = "retryAfter", skip_serializing_if = "Option::is_none")]
        retry_after: Option<u32>,
    },
    /// Wait this long, then serve normally (adds to other faults).
    Latency { ms: u64 },
    /// On a collection GET: no events, and a nextLink to the same request
    /// (clients.md §5: Python's PageIterator stops there).
    EmptyPage,
    /// Close the connection without a complete response.
    Drop,
}

impl Fault {
    /// Latency combines with what follows; the others replace the answer.
    fn is_terminal(&self) -> bool {
        !matches!(self, Fault::Latency { .. })
    }

    /// The journal's word for it.
    pub fn label(&self) -> String {
        match self {
            Fault::Status { status, .. } => format!("status-{status}"),
            Fault::Latency { .. } => "latency".into(),
            Fault::EmptyPage => "empty-page".into(),
            Fault::Drop => "drop".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// Assigned when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Glob over the request path, case-insensitive; `*` matches anything,
    /// slashes included. Default `*`.
    #[serde(default = "any_path")]
    pub path: String,
    /// Only this method (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Fire on each matching request with this probability (0–1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Fire on exactly the nth matching request (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nth: Option<u64>,
    /// Fire at most this many times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    #[serde(flatten)]
    pub fault: Fault,
}

fn any_path() -> String {
    "*".into()
}

/// The body of `PUT /_auditgraph/faults` and of the `--faults` file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultSet {
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

impl Rule {
    fn validate(&self) -> Result<(), String> {
        if let Some(p) = self.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(format!("probability must be between 0 and 1, not {p}"));
        }
        if self.nth == Some(0) {
            return Err("nth counts from 1".into());
        }
        if self.nth.is_some() && self.probability.is_some() {
            return Err("a rule has either nth or probability, not both".into());
        }
        if let Fault::Status { status, .. } = self.fault
            && !(500..=599).contains(&status)
        {
            return Err(format!("a status fault is a 5xx status, not {status}"));
        }
        Ok(())
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_ref().is_none_or(|m| m.eq_ignore_ascii_case(method))
            && glob(&self.path.to_ascii_lowercase(), &path.to_ascii_lowercase())
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleStatus {
    #[serde(flatten)]
    pub rule: Rule,
    /// Requests the rule's path and method selected.
    pub matched: u64,
    /// Times it fired.
    pub fired: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultsView {
    pub seed: u64,
    pub rules: Vec<RuleStatus>,
}

struct Armed {
    status: RuleStatus,
    rng: ChaCha8Rng,
}

struct State {
    seed: u64,
    next_id: u64,
    rules: Vec<Armed>,
}

/// What to do to one request.
#[derive(Debug, Default)]
pub struct Decision {
    pub latency_ms: u64,
    pub terminal: Option<Fault>,
    pub labels: Vec<String>,
}

pub struct Faults {
    state: Mutex<State>,
}

impl Faults {
    pub fn new(set: FaultSet) -> Result<Faults, String> {
        let faults = Faults { state: Mutex::new(State { seed: 0, next_id: 1, rules: Vec::new() }) };
        faults.replace(set)?;
        Ok(faults)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn arm(state: &mut State, mut rule: Rule) -> Result<(), String> {
        rule.validate()?;
        if rule.id.is_none() {
            rule.id = Some(state.next_id.to_string());
            state.next_id += 1;
        }
        // A numbered id given with the rule (another instance's, shared through
        // the cluster) keeps later numbers from repeating it.
        if let Some(n) = rule.id.as_deref().and_then(|id| id.parse::<u64>().ok()) {
            state.next_id = state.next_id.max(n + 1);
        }
        let position = state.rules.len() as u64;
        let rng = ChaCha8Rng::seed_from_u64(state.seed ^ position.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        state.rules.push(Armed { status: RuleStatus { rule, matched: 0, fired: 0 }, rng });
        Ok(())
    }

    /// Installs a new rule set (nothing changes if a rule is invalid).
    pub fn replace(&self, set: FaultSet) -> Result<FaultsView, String> {
        let mut fresh = State { seed: set.seed, next_id: 1, rules: Vec::new() };
        for rule in set.rules {
            Self::arm(&mut fresh, rule)?;
        }
        *self.lock() = fresh;
        Ok(self.view())
    }

    /// Adds one rule after the others; returns it with its id.
    pub fn add(&self, rule: Rule) -> Result<RuleStatus, String> {
        let mut state = self.lock();
        Self::arm(&mut state, rule)?;
        Ok(state.rules.last().map(|a| a.status.clone()).expect("just added"))
    }

    pub fn remove(&self, id: &str) -> bool {
        let mut state = self.lock();
        let before = state.rules.len();
        state.rules.retain(|a| a.status.rule.id.as_deref() != Some(id));
        state.rules.len() != before
    }

    pub fn view(&self) -> FaultsView {
        let state = self.lock();
        FaultsView { seed: state.seed, rules: state.rules.iter().map(|a| a.status.clone()).collect() }
    }

    /// Decides the request's fate: every matching rule counts it and rolls its
    /// dice; latencies add up, and the first terminal fault that fires wins.
    pub fn decide(&self, method: &str, path: &str) -> Decision {
        let mut state = self.lock();
        let mut decision = Decision::default();
        for armed in state.rules.iter_mut() {
            let status = &mut armed.status;
            if !status.rule.matches(method, path) {
                continue;
            }
            status.matched += 1;
            let fires = match (status.rule.nth, status.rule.probability) {
                (Some(n), _) => status.matched == n,
                (None, Some(p)) => armed.rng.random::<f64>() < p,
                (None, None) => true,
            };
            let spent = status.rule.times.is_some_and(|t| status.fired >= t);
            if !fires || spent || (status.rule.fault.is_terminal() && decision.terminal.is_some()) {
                continue;
            }
            status.fired += 1;
            decision.labels.push(status.rule.fault.label());
            match &status.rule.fault {
                Fault::Latency { ms } => decision.latency_ms += ms,
                other => decision.terminal = Some(other.clone()),
            }
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_a_shell_star() {
        assert!(glob("*", "/v1.0/x"));
        assert!(glob("/v1.0/devicemanagement/auditevents", "/v1.0/devicemanagement/auditevents"));
        assert!(!glob("/v1.0/devicemanagement/auditevents", "/v1.0/devicemanagement/auditevents/1"));
        assert!(glob("*/auditevents*", "/beta/devicemanagement/auditevents/abc"));
        assert!(glob("/*/devicemanagement/auditevents", "/beta/devicemanagement/auditevents"));
        assert!(!glob("/*/devicemanagement/auditevents", "/beta/devicemanagement/other"));
        assert!(glob("*a*a", "aa"));
        assert!(!glob("*a*a", "a"));
    }

    fn rule(json: &str) -> Rule {
        serde_json::from_str(json).expect("rule")
    }

    #[test]
    fn the_same_seed_gives_the_same_decisions() {
        let run = |seed: u64| {
            let faults = Faults::new(FaultSet {
                seed,
                rules: vec![rule(r#"{"probability":0.5,"fault":"status","status":503}"#)],
            })
            .expect("valid");
            (0..64).map(|_| faults.decide("GET", "/v1.0/x").terminal.is_some()).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let hits = run(7).iter().filter(|b| **b).count();
        assert!((16..=48).contains(&hits), "{hits} of 64 at p=0.5");
    }

    #[test]
    fn nth_and_times_limit_firing_and_latency_adds_up() {
        let faults = Faults::new(FaultSet {
            seed: 1,
            rules: vec![
                rule(r#"{"method":"get","nth":2,"fault":"drop"}"#),
                rule(r#"{"times":1,"fault":"latency","ms":5}"#),
                rule(r#"{"times":1,"fault":"latency","ms":7}"#),
            ],
        })
        .expect("valid");
        let first = faults.decide("GET", "/a");
        assert_eq!((first.latency_ms, first.terminal), (12, None));
        assert_eq!(faults.decide("GET", "/a").terminal, Some(Fault::Drop));
        assert_eq!(faults.decide("POST", "/a").terminal, None);
        assert_eq!(faults.decide("GET", "/a").latency_ms, 0);
    }

    #[test]
    fn invalid_rules_are_refused() {
        for bad in [
            r#"{"fault":"status","status":404}"#,
            r#"{"probability":1.5,"fault":"drop"}"#,
            r#"{"nth":0,"fault":"drop"}"#,
            r#"{"nth":1,"probability":0.5,"fault":"drop"}"#,
        ] {
            assert!(Faults::new(FaultSet { seed: 0, rules: vec![rule(bad)] }).is_err(), "{bad}");
        }
    }
}
