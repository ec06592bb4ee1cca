//! Bounds on the work one GraphQL request may ask for, and on the text it may
//! carry, checked on the parsed document before async-graphql validates or
//! executes it ([`Admission`]).
//!
//! async-graphql's depth check, its validation visitors (complexity, depth) and
//! its executor all walk a fragment spread by walking the fragment again, so a
//! document whose fragments each spread the previous one three times asks for
//! 3^n walks from a few hundred bytes: 25 levels never finished, on a worker
//! thread no timeout or shutdown can interrupt. Here every fragment is sized once
//! (memoised, iteratively: a chain of fragments is as long as the body allows),
//! so a document is measured in time linear in its text, and one that would
//! expand past [`MAX_SELECTIONS`] is refused before any of those walks start.
//!
//! The same count bounds aliases (`a1: totalCount a2: totalCount …`: each alias
//! is a selection) and, summed over its operations, a batch, which also holds at
//! most [`MAX_BATCH`] operations (async-graphql has no batch limit, and applies
//! its complexity limit per operation). What remains is bounded in time by the
//! per-request budget (`--graphql-timeout-ms`, see `http`).
//!
//! Parsing happens here, so the documents parsed are kept here too, by their
//! text (`Documents`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest};
use async_graphql::parser::types::{Directive, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Positioned, Request, ServerError, ServerResult, Variables};

use crate::domain::refuse_nul;

/// Most selections a request may hold once every fragment spread is replaced by
/// its fragment: each field (so each alias), inline fragment and spread counts,
/// and each fragment definition counts once more on its own (validation walks it
/// too). graphql-js's introspection query is about 400. A batch counts its
/// operations together.
pub const MAX_SELECTIONS: u64 = 5_000;
/// Most operations in one batch (a JSON array of requests).
pub const MAX_BATCH: usize = 50;

/// The selections `doc` holds with its fragments expanded (saturating), or the
/// error of a fragment that spreads itself, which could never be expanded.
pub(crate) fn expanded_selections(doc: &ExecutableDocument) -> Result<u64, ServerError> {
    // Each selection set's own selections and the fragments it spreads, found
    // by recursion bounded by the parser's nesting limit (64).
    fn local<'d>(set: &'d SelectionSet, own: &mut u64, spreads: &mut Vec<&'d str>) {
        for item in &set.items {
            *own = own.saturating_add(1);
            match &item.node {
                Selection::Field(field) => local(&field.node.selection_set.node, own, spreads),
                Selection::InlineFragment(inline) => local(&inline.node.selection_set.node, own, spreads),
                Selection::FragmentSpread(spread) => spreads.push(spread.node.fragment_name.node.as_str()),
            }
        }
    }
    fn shape(set: &SelectionSet) -> (u64, Vec<&str>) {
        let (mut own, mut spreads) = (0, Vec::new());
        local(set, &mut own, &mut spreads);
        (own, spreads)
    }
    let fragments: HashMap<&str, (u64, Vec<&str>)> = doc
        .fragments
        .iter()
        .map(|(name, fragment)| (name.as_str(), shape(&fragment.node.selection_set.node)))
        .collect();

    // Post-order over the spread graph with an explicit stack; a spread of an
    // unknown fragment counts as itself (validation names it).
    let mut size: HashMap<&str, u64> = HashMap::with_capacity(fragments.len());
    let mut on_path: HashSet<&str> = HashSet::new();
    for &root in fragments.keys() {
        if size.contains_key(root) {
            continue;
        }
        let mut stack: Vec<(&str, usize)> = vec![(root, 0)];
        on_path.insert(root);
        while let Some(&(name, next)) = stack.last() {
            let (own, spreads) = &fragments[name];
            if let Some(&spread) = spreads.get(next) {
                stack.last_mut().expect("not empty").1 += 1;
                if size.contains_key(spread) || !fragments.contains_key(spread) {
                    continue;
                }
                if !on_path.insert(spread) {
                    return Err(ServerError::new(
                        format!("Cannot spread fragment \"{spread}\" within itself."),
                        None,
                    ));
                }
                stack.push((spread, 0));
            } else {
                let total = spreads
                    .iter()
                    .fold(*own, |total, spread| total.saturating_add(size.get(spread).copied().unwrap_or(0)));
                size.insert(name, total);
                on_path.remove(name);
                stack.pop();
            }
        }
    }

    let expanded = |(own, spreads): (u64, Vec<&str>)| {
        spreads.iter().fold(own, |total, spread| total.saturating_add(size.get(spread).copied().unwrap_or(0)))
    };
    let operations = doc
        .operations
        .iter()
        .map(|(_, op)| expanded(shape(&op.node.selection_set.node)))
        .fold(0, u64::saturating_add);
    Ok(size.values().fold(operations, |total, &n| total.saturating_add(n)))
}

/// The refusal of a request or batch that asks for more than [`MAX_SELECTIONS`].
pub(crate) fn too_many_selections(what: &str, selections: u64) -> String {
    format!(
        "{what} is too large: {selections} selections once its fragments are expanded, more than the limit of {MAX_SELECTIONS}. Every field and alias counts, and a fragment counts as often as it is spread."
    )
}

/// The first string the request carries, in its variables or as a literal in
/// its document, that holds a NUL character. Each definition is walked once (no
/// fragment expansion); values as JSON, with an explicit stack.
pub(crate) fn string_with_nul(doc: &ExecutableDocument, variables: &Variables) -> Option<String> {
    fn in_json(root: serde_json::Value) -> Option<String> {
        let mut stack = vec![root];
        while let Some(value) = stack.pop() {
            match value {
                serde_json::Value::String(s) if s.contains('\0') => return Some(s),
                serde_json::Value::Array(items) => stack.extend(items),
                serde_json::Value::Object(members) => {
                    for (key, value) in members {
                        if key.contains('\0') {
                            return Some(key);
                        }
                        stack.push(value);
                    }
                }
                _ => {}
            }
        }
        None
    }
    fn in_node<V: serde::Serialize>(value: &Positioned<V>) -> Option<String> {
        serde_json::to_value(&value.node).ok().and_then(in_json)
    }
    fn in_arguments<V: serde::Serialize>(arguments: &[(Positioned<Name>, Positioned<V>)]) -> Option<String> {
        arguments.iter().find_map(|(_, value)| in_node(value))
    }
    fn in_directives(directives: &[Positioned<Directive>]) -> Option<String> {
        directives.iter().find_map(|d| in_arguments(&d.node.arguments))
    }
    // Recursion bounded by the parser's nesting limit (64).
    fn in_set(set: &SelectionSet) -> Option<String> {
        set.items.iter().find_map(|item| match &item.node {
            Selection::Field(field) => in_arguments(&field.node.arguments)
                .or_else(|| in_directives(&field.node.directives))
                .or_else(|| in_set(&field.node.selection_set.node)),
            Selection::FragmentSpread(spread) => in_directives(&spread.node.directives),
            Selection::InlineFragment(inline) => {
                in_directives(&inline.node.directives).or_else(|| in_set(&inline.node.selection_set.node))
            }
        })
    }
    serde_json::to_value(variables)
        .ok()
        .and_then(in_json)
        .or_else(|| {
            doc.operations.iter().find_map(|(_, op)| {
                let op = &op.node;
                op.variable_definitions
                    .iter()
                    .find_map(|v| v.node.default_value.as_ref().and_then(in_node))
                    .or_else(|| in_directives(&op.directives))
                    .or_else(|| in_set(&op.selection_set.node))
            })
        })
        .or_else(|| {
            doc.fragments.values().find_map(|f| {
                in_directives(&f.node.directives).or_else(|| in_set(&f.node.selection_set.node))
            })
        })
}

/// What a request must satisfy before async-graphql parses any further, on every
/// transport (HTTP and the websocket alike): a document that expands to at most
/// [`MAX_SELECTIONS`], and no NUL character in any string it carries (the rule of
/// `domain::refuse_nul`: arguments and variables become filters, ids, inputs).
/// It also keeps the documents it parsed (see [`Documents`]).
#[derive(Default)]
pub struct Admission {
    documents: Arc<Documents>,
}

impl ExtensionFactory for Admission {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AdmissionExtension { documents: self.documents.clone() })
    }
}

/// Documents as parsed, by their text: clients send the same few queries again
/// and again (a page after a page), and parsing one (pest) was the largest
/// share of a GraphQL page once its events were rendered ahead. A text names
/// one document, so a kept one is always right. Bounded: texts of at most
/// [`KEPT_TEXT`] bytes, at most [`KEPT_DOCUMENTS`] of them, all dropped when full.
#[derive(Default)]
struct Documents(std::sync::Mutex<std::collections::HashMap<String, ExecutableDocument>>);

const KEPT_TEXT: usize = 16 * 1024;
const KEPT_DOCUMENTS: usize = 256;

impl Documents {
    fn get(&self, text: &str) -> Option<ExecutableDocument> {
        self.0.lock().expect("documents poisoned").get(text).cloned()
    }

    fn keep(&self, text: &str, doc: &ExecutableDocument) {
        if text.len() > KEPT_TEXT {
            return;
        }
        let mut kept = self.0.lock().expect("documents poisoned");
        if kept.len() >= KEPT_DOCUMENTS {
            kept.clear();
        }
        kept.insert(text.to_string(), doc.clone());
    }
}

struct AdmissionExtension {
    documents: Arc<Documents>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for AdmissionExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // `parsed_query` borrows the whole request; the variables step aside meanwhile.
        let variables = std::mem::take(&mut request.variables);
        // Parsed once here (or kept from before); async-graphql uses this document
        // instead of parsing again.
        let new_text = match self.documents.get(&request.query) {
            Some(doc) => {
                request.set_parsed_query(doc);
                None
            }
            None => Some(request.query.clone()),
        };
        let doc = request.parsed_query()?;
        if let Some(text) = new_text {
            self.documents.keep(&text, doc);
        }
        let selections = expanded_selections(doc)?;
        if selections > MAX_SELECTIONS {
            return Err(ServerError::new(too_many_selections("The query", selections), None));
        }
        if let Some(text) = string_with_nul(doc, &variables)
            && let Err(message) = refuse_nul(&text, || "A string in the GraphQL request".into())
        {
            return Err(ServerError::new(message, None));
        }
        request.variables = variables;
        next.run(ctx, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(query: &str) -> Result<u64, String> {
        let doc = async_graphql::parser::parse_query(query).expect("valid syntax");
        expanded_selections(&doc).map_err(|e| e.message)
    }

    #[test]
    fn counts_fields_aliases_and_expanded_fragments() {
        assert_eq!(count("{ a b: a c { d } }"), Ok(4));
        // The operation: F (1) + its 2 fields; the definition: 2 more.
        assert_eq!(count("{ ...F } fragment F on Query { a b }"), Ok(5));
        assert_eq!(count("{ ... on Query { a } }"), Ok(2));
        // An unknown fragment counts as its spread alone.
        assert_eq!(count("{ ...Nope }"), Ok(1));
    }

    #[test]
    fn a_fragment_bomb_is_measured_without_expanding_it() {
        let mut query = String::from("{ ...L60 } fragment L0 on Query { __typename }");
        for i in 1..=60 {
            query.push_str(&format!(" fragment L{i} on Query {{ ...L{p} ...L{p} ...L{p} }}", p = i - 1));
        }
        let started = std::time::Instant::now();
        assert_eq!(count(&query), Ok(u64::MAX));
        assert!(started.elapsed().as_secs() < 1);
    }

    #[test]
    fn long_fragment_chains_do_not_recurse() {
        let mut query = String::from("{ ...L0 }");
        for i in 0..20_000 {
            query.push_str(&format!(" fragment L{i} on Query {{ a ...L{} }}", i + 1));
        }
        query.push_str(" fragment L20000 on Query { a }");
        assert!(count(&query).unwrap() > 20_000);
    }

    #[test]
    fn graphiqls_introspection_query_fits_with_room() {
        let query = r#"query IntrospectionQuery { __schema { queryType { name } mutationType { name } subscriptionType { name }
            types { ...FullType } directives { name description locations args { ...InputValue } } } }
          fragment FullType on __Type { kind name description
            fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
            inputFields { ...InputValue } interfaces { ...TypeRef }
            enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
          fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
          fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
            ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }"#;
        let n = count(query).unwrap();
        assert!((300..=500).contains(&n), "{n}");
    }

    #[test]
    fn fragment_cycles_are_refused() {
        let error = count("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }").unwrap_err();
        assert!(error.starts_with("Cannot spread fragment"), "{error}");
    }
}
