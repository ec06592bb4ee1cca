//! The delivery faults Azure Monitor shows real consumers (live-routing.md
//! §1.3), switchable at runtime through the admin API: a dropped batch, a
//! duplicated batch, a destination that refuses for a while, and a stalled
//! route (the worker marks it; it resumes when its setting is saved again).
//! Which batch a probability hits is drawn from a seeded generator, so a run
//! with the same seed and the same batches faults the same way.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// One fault rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    pub kind: FaultKind,
    /// The setting it applies to (any when absent), case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
    /// Chance per batch, 0–1 (1 when absent).
    #[serde(default = "one")]
    pub probability: f64,
    /// `unavailable`: how long the destination refuses, from when the rules are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    /// The batch is lost: acknowledged, never written.
    Drop,
    /// The batch is written twice.
    Duplicate,
    /// The destination refuses deliveries (the worker retries with back-off).
    Unavailable,
    /// The route stops until its setting is saved again.
    Stall,
}

/// The rules as the admin API sets them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRules {
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

impl FaultRules {
    pub fn check(&self) -> Result<(), String> {
        for (i, r) in self.rules.iter().enumerate() {
            if !(0.0..=1.0).contains(&r.probability) {
                return Err(format!("rules[{i}].probability must be between 0 and 1."));
            }
            match (r.kind, r.seconds) {
                (FaultKind::Unavailable, Some(s)) if s.is_finite() && s > 0.0 => {}
                (FaultKind::Unavailable, _) => {
                    return Err(format!(
                        "rules[{i}]: an 'unavailable' rule needs 'seconds' (how long it refuses)."
                    ));
                }
                (_, Some(_)) => return Err(format!("rules[{i}]: only 'unavailable' takes 'seconds'.")),
                _ => {}
            }
        }
        Ok(())
    }
}

/// The rules in force, their generator and when they were set.
pub struct Faults {
    pub rules: FaultRules,
    rng: ChaCha8Rng,
    set_at: std::time::Instant,
}

impl Default for Faults {
    fn default() -> Self {
        Faults::new(FaultRules::default())
    }
}

impl Faults {
    pub fn new(rules: FaultRules) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(rules.seed);
        Faults { rules, rng, set_at: std::time::Instant::now() }
    }

    /// The fault (if any) for the next batch of a route of `setting`.
    pub fn draw(&mut self, setting: &str) -> Option<FaultKind> {
        let elapsed = self.set_at.elapsed().as_secs_f64();
        for rule in &self.rules.rules {
            if rule.setting.as_deref().is_some_and(|s| !s.eq_ignore_ascii_case(setting)) {
                continue;
            }
            if rule.kind == FaultKind::Unavailable && elapsed >= rule.seconds.unwrap_or(0.0) {
                continue;
            }
            let hit = rule.probability >= 1.0 || self.rng.random::<f64>() < rule.probability;
            if hit {
                return Some(rule.kind);
            }
        }
        None
    }
}
