//! Precedence-climbing parser from tokens to an untyped syntax tree ([`Expr`]).
//! Names are not resolved here; [`super::check`] does that, so every syntax error
//! is reported before any binding error, as in ODL.
//!
//! Precedence, loosest first (odata.md §3.4): `or`, `and`, `eq ne`, `gt ge lt le`,
//! unary `not`, then the primary level: member paths, calls, `in` and `has`. So
//! `not category eq 'X'` is `(not category) eq 'X'` (a type error, as in Graph) and
//! `not category in ('X')` is `not (category in ('X'))`.
//!
//! Error texts and positions follow ODL: "Syntax error at position N" quotes the end
//! of the offending token; "expected" messages quote its start.

use uuid::Uuid;

use super::ast::CompareOp;
use super::error::ODataError;
use super::lexer::{Token, TokenKind, tokenize};
use super::literal::DateTimeLiteral;
use crate::domain::Ticks;

/// Bound on nesting (parentheses, `not`, lambdas, call arguments) plus the links of
/// operator chains: a simple comparison costs 3, each parenthesis 1, each link of
/// `a or b or …` 1. Everything downstream (binding, evaluation, Display, SQL
/// building, `Drop`) recurses over the tree; at this bound a debug build needs well
/// under 1 MiB of stack for the whole pipeline (ODL's own default is 800).
pub(crate) const MAX_DEPTH: usize = 100;

/// Bound on the literal values of one expression: every comparison operand and
/// every `in` item counts. Each becomes one bound SQL parameter, so this keeps a
/// query far inside every backend's own limit (SQLite's 32,766 variables, 65,535
/// on PostgreSQL and MySQL) whatever the text's length, identically on all three.
pub(crate) const MAX_VALUES: usize = 1000;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Logical { op: LogicalOp, left: Box<Expr>, right: Box<Expr> },
    Compare { op: CompareOp, left: Box<Expr>, right: Box<Expr> },
    Not(Box<Expr>),
    In { left: Box<Expr>, items: Vec<Expr> },
    Has { left: Box<Expr>, right: Box<Expr> },
    Literal(RawLiteral),
    Path(Path),
    Call { name: String, args: Vec<Expr> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogicalOp {
    And,
    Or,
}

impl LogicalOp {
    pub(crate) fn kind_name(self) -> &'static str {
        match self {
            LogicalOp::And => "And",
            LogicalOp::Or => "Or",
        }
    }
}

/// `a/b/c`, optionally ending in a lambda: `resources/any(r: …)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    pub head: String,
    pub tail: Vec<String>,
    pub lambda: Option<Box<Lambda>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lambda {
    pub kind: LambdaKind,
    /// `None` only for `any()`.
    pub variable: Option<String>,
    pub body: Option<Expr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LambdaKind {
    Any,
    All,
}

/// A literal as written, before it meets the property it is compared with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawLiteral {
    Null,
    Bool(bool),
    String(String),
    DateTime(DateTimeLiteral),
    Date(Ticks),
    Guid(Uuid),
    Number(String),
}

#[derive(Debug, Clone, Copy)]
enum BinaryOp {
    Logical(LogicalOp),
    Compare(CompareOp),
}

impl BinaryOp {
    fn precedence(self) -> u8 {
        match self {
            BinaryOp::Logical(LogicalOp::Or) => 1,
            BinaryOp::Logical(LogicalOp::And) => 2,
            BinaryOp::Compare(CompareOp::Eq | CompareOp::Ne) => 3,
            BinaryOp::Compare(_) => 4,
        }
    }
}

/// Parses a whole boolean-or-value expression (a `$filter` value).
pub(crate) fn parse_expression(text: &str) -> Result<Expr, ODataError> {
    let mut parser = Parser::new(text);
    let expr = parser.expression(0)?;
    parser.expect_end()?;
    Ok(expr)
}

pub(crate) struct Parser<'t> {
    text: &'t str,
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
    values: usize,
}

impl<'t> Parser<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        Parser { text, tokens: tokenize(text), at: 0, depth: 0, values: 0 }
    }

    pub(crate) fn text(&self) -> &'t str {
        self.text
    }

    /// The current token; reaching a lexical error raises it.
    pub(crate) fn current(&self) -> Result<&Token, ODataError> {
        match self.tokens.get(self.at) {
            Some(Token { kind: TokenKind::Invalid(error), .. }) => Err(error.clone()),
            Some(token) => Ok(token),
            // `tokenize` always ends with End or Invalid and the parser never moves
            // past either; answer End anyway rather than panic.
            None => Ok(self.tokens.last().unwrap_or(&END)),
        }
    }

    fn peek_kind(&self, ahead: usize) -> &TokenKind {
        self.tokens.get(self.at + ahead).map_or(&TokenKind::End, |t| &t.kind)
    }

    pub(crate) fn advance(&mut self) {
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
    }

    pub(crate) fn expect_end(&self) -> Result<(), ODataError> {
        let token = self.current()?;
        match token.kind {
            TokenKind::End => Ok(()),
            _ => Err(ODataError::syntax(token.end, self.text)),
        }
    }

    fn enter(&mut self) -> Result<(), ODataError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH { Err(ODataError::too_deep()) } else { Ok(()) }
    }

    fn current_keyword(&self) -> Result<Option<String>, ODataError> {
        Ok(match &self.current()?.kind {
            TokenKind::Identifier(word) => Some(word.to_ascii_lowercase()),
            _ => None,
        })
    }

    fn binary_operator(&self) -> Result<Option<BinaryOp>, ODataError> {
        let Some(word) = self.current_keyword()? else {
            return Ok(None);
        };
        Ok(match word.as_str() {
            "and" => Some(BinaryOp::Logical(LogicalOp::And)),
            "or" => Some(BinaryOp::Logical(LogicalOp::Or)),
            other => CompareOp::from_keyword(other).map(BinaryOp::Compare),
        })
    }

    /// Precedence climbing: parses operators binding at least as tight as `min`.
    /// All binary operators associate to the left.
    pub(crate) fn expression(&mut self, min: u8) -> Result<Expr, ODataError> {
        self.enter()?;
        let mut left = self.unary()?;
        let mut chained = 0;
        while let Some(op) = self.binary_operator()? {
            let precedence = op.precedence();
            if precedence < min {
                break;
            }
            self.advance();
            // A long `a or b or c …` chain builds a left-deep tree without recursing,
            // so count each link towards the depth bound too.
            self.enter()?;
            chained += 1;
            let right = Box::new(self.expression(precedence + 1)?);
            let left_box = Box::new(left);
            left = match op {
                BinaryOp::Logical(op) => Expr::Logical { op, left: left_box, right },
                BinaryOp::Compare(op) => Expr::Compare { op, left: left_box, right },
            };
        }
        self.depth -= 1 + chained;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ODataError> {
        if self.current_keyword()?.as_deref() == Some("not") {
            self.advance();
            // `not(…)` is bounded by its parentheses; counting it once keeps
            // `not not x` and its canonical form `not(not(x))` at the same depth.
            let counted = self.current()?.kind != TokenKind::OpenParen;
            if counted {
                self.enter()?;
            }
            let operand = self.unary()?;
            if counted {
                self.depth -= 1;
            }
            return Ok(Expr::Not(Box::new(operand)));
        }
        self.postfix()
    }

    /// A primary followed by any number of `in (…)` / `has x`.
    fn postfix(&mut self) -> Result<Expr, ODataError> {
        let mut expr = self.primary()?;
        loop {
            match self.current_keyword()?.as_deref() {
                Some("in") => {
                    self.advance();
                    let items = self.in_list()?;
                    expr = Expr::In { left: Box::new(expr), items };
                }
                Some("has") => {
                    self.advance();
                    let right = self.primary()?;
                    expr = Expr::Has { left: Box::new(expr), right: Box::new(right) };
                }
                _ => return Ok(expr),
            }
        }
    }

    fn in_list(&mut self) -> Result<Vec<Expr>, ODataError> {
        let open = self.current()?;
        if open.kind != TokenKind::OpenParen {
            return Err(ODataError::bad_request(format!(
                "'(' expected at position {} in '{}'.",
                open.start, self.text
            )));
        }
        self.advance();
        self.comma_list()
    }

    /// The items after an opening parenthesis, up to and including the closing one.
    fn comma_list(&mut self) -> Result<Vec<Expr>, ODataError> {
        let mut items = Vec::new();
        if self.current()?.kind == TokenKind::CloseParen {
            self.advance();
            return Ok(items);
        }
        loop {
            items.push(self.expression(0)?);
            let token = self.current()?;
            match token.kind {
                TokenKind::Comma => self.advance(),
                TokenKind::CloseParen => {
                    self.advance();
                    return Ok(items);
                }
                _ => {
                    return Err(ODataError::bad_request(format!(
                        "')' or ',' expected at position {} in '{}'.",
                        token.start, self.text
                    )));
                }
            }
        }
    }

    fn expect_close_paren(&mut self) -> Result<(), ODataError> {
        let token = self.current()?;
        if token.kind != TokenKind::CloseParen {
            return Err(ODataError::bad_request(format!(
                "')' or operator expected at position {} in '{}'.",
                token.start, self.text
            )));
        }
        self.advance();
        Ok(())
    }

    fn primary(&mut self) -> Result<Expr, ODataError> {
        let token = self.current()?;
        let literal = match &token.kind {
            TokenKind::OpenParen => {
                self.advance();
                let inner = self.expression(0)?;
                self.expect_close_paren()?;
                return Ok(inner);
            }
            TokenKind::String(s) => RawLiteral::String(s.clone()),
            TokenKind::DateTime(d) => RawLiteral::DateTime(*d),
            TokenKind::Date(d) => RawLiteral::Date(*d),
            TokenKind::Guid(g) => RawLiteral::Guid(*g),
            TokenKind::Number(n) => RawLiteral::Number(n.clone()),
            // `null` is case-sensitive in the ABNF; `true`/`false` are not.
            TokenKind::Identifier(word) if word == "null" => RawLiteral::Null,
            TokenKind::Identifier(word) if word.eq_ignore_ascii_case("true") => RawLiteral::Bool(true),
            TokenKind::Identifier(word) if word.eq_ignore_ascii_case("false") => RawLiteral::Bool(false),
            TokenKind::Identifier(name) => {
                let name = name.clone();
                return if *self.peek_kind(1) == TokenKind::OpenParen {
                    self.advance();
                    self.advance();
                    let args = self.comma_list()?;
                    Ok(Expr::Call { name, args })
                } else {
                    self.path(name)
                };
            }
            _ => return Err(ODataError::expression_expected(token.start, self.text)),
        };
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(ODataError::too_many_values());
        }
        self.advance();
        Ok(Expr::Literal(literal))
    }

    /// The rest of a member path whose first segment is the current token.
    fn path(&mut self, first: String) -> Result<Expr, ODataError> {
        self.advance();
        let mut tail = Vec::new();
        while self.current()?.kind == TokenKind::Slash {
            self.advance();
            let token = self.current()?;
            let TokenKind::Identifier(segment) = &token.kind else {
                return Err(ODataError::syntax(token.end, self.text));
            };
            let lambda_kind = if segment.eq_ignore_ascii_case("any") {
                Some(LambdaKind::Any)
            } else if segment.eq_ignore_ascii_case("all") {
                Some(LambdaKind::All)
            } else {
                None
            };
            match lambda_kind {
                Some(kind) if *self.peek_kind(1) == TokenKind::OpenParen => {
                    self.advance();
                    self.advance();
                    let lambda = self.lambda(kind)?;
                    return Ok(Expr::Path(Path { head: first, tail, lambda: Some(Box::new(lambda)) }));
                }
                _ => {
                    tail.push(segment.clone());
                    self.advance();
                }
            }
        }
        Ok(Expr::Path(Path { head: first, tail, lambda: None }))
    }

    /// After `any(` / `all(`: `)` (any only) or `var: predicate)`.
    fn lambda(&mut self, kind: LambdaKind) -> Result<Lambda, ODataError> {
        let token = self.current()?;
        if kind == LambdaKind::Any && token.kind == TokenKind::CloseParen {
            self.advance();
            return Ok(Lambda { kind, variable: None, body: None });
        }
        let TokenKind::Identifier(variable) = &token.kind else {
            return Err(ODataError::bad_request(format!(
                "An identifier was expected at position {}.",
                token.start
            )));
        };
        let variable = variable.clone();
        self.advance();
        let colon = self.current()?;
        if colon.kind != TokenKind::Colon {
            return Err(ODataError::syntax(colon.end, self.text));
        }
        self.advance();
        let body = self.expression(0)?;
        self.expect_close_paren()?;
        Ok(Lambda { kind, variable: Some(variable), body: Some(body) })
    }
}

static END: Token = Token { kind: TokenKind::End, start: 0, end: 0 };

#[cfg(test)]
mod tests {
    use super::*;

    fn path(segments: &[&str]) -> Expr {
        let tail = segments[1..].iter().map(|s| s.to_string()).collect();
        Expr::Path(Path { head: segments[0].to_string(), tail, lambda: None })
    }

    fn string(s: &str) -> Box<Expr> {
        Box::new(Expr::Literal(RawLiteral::String(s.into())))
    }

    fn cmp(op: CompareOp, name: &str, value: &str) -> Expr {
        Expr::Compare { op, left: Box::new(path(&[name])), right: string(value) }
    }

    fn logical(op: LogicalOp, left: Expr, right: Expr) -> Expr {
        Expr::Logical { op, left: Box::new(left), right: Box::new(right) }
    }

    fn error(text: &str) -> String {
        parse_expression(text).unwrap_err().message
    }

    #[test]
    fn and_binds_tighter_than_or_and_both_associate_left() {
        let (a, b, c) =
            (cmp(CompareOp::Eq, "a", "x"), cmp(CompareOp::Eq, "b", "y"), cmp(CompareOp::Eq, "c", "z"));
        assert_eq!(
            parse_expression("a eq 'x' or b eq 'y' and c eq 'z'").unwrap(),
            logical(LogicalOp::Or, a.clone(), logical(LogicalOp::And, b.clone(), c.clone()))
        );
        assert_eq!(
            parse_expression("a eq 'x' and b eq 'y' or c eq 'z'").unwrap(),
            logical(LogicalOp::Or, logical(LogicalOp::And, a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            parse_expression("a eq 'x' or b eq 'y' or c eq 'z'").unwrap(),
            logical(LogicalOp::Or, logical(LogicalOp::Or, a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            parse_expression("a eq 'x' AND (b eq 'y' Or c eq 'z')").unwrap(),
            logical(LogicalOp::And, a, logical(LogicalOp::Or, b, c))
        );
    }

    #[test]
    fn not_binds_tighter_than_eq_but_looser_than_in() {
        assert_eq!(
            parse_expression("not category eq 'X'").unwrap(),
            Expr::Compare {
                op: CompareOp::Eq,
                left: Box::new(Expr::Not(Box::new(path(&["category"])))),
                right: string("X")
            }
        );
        assert_eq!(
            parse_expression("NOT category in ('X')").unwrap(),
            Expr::Not(Box::new(Expr::In { left: Box::new(path(&["category"])), items: vec![*string("X")] }))
        );
        assert_eq!(
            parse_expression("not(category eq 'X')").unwrap(),
            Expr::Not(Box::new(cmp(CompareOp::Eq, "category", "X")))
        );
    }

    #[test]
    fn relational_binds_tighter_than_equality() {
        // `a eq b gt c` is `a eq (b gt c)`.
        let parsed = parse_expression("a eq b gt 'c'").unwrap();
        let Expr::Compare { op: CompareOp::Eq, right, .. } = parsed else { panic!("{parsed:?}") };
        assert!(matches!(*right, Expr::Compare { op: CompareOp::Gt, .. }));
    }

    #[test]
    fn lambdas_calls_and_lists() {
        let parsed =
            parse_expression("resources/any(r:r/modifiedProperties/any(p:p/displayName eq 'Limit'))")
                .unwrap();
        let Expr::Path(Path { head, tail, lambda: Some(outer) }) = parsed else { panic!() };
        assert_eq!((head.as_str(), tail.len()), ("resources", 0));
        assert_eq!(outer.variable.as_deref(), Some("r"));
        let Some(Expr::Path(Path { head, tail, lambda: Some(inner) })) = &outer.body else { panic!() };
        assert_eq!((head.as_str(), tail.as_slice()), ("r", ["modifiedProperties".to_string()].as_slice()));
        assert_eq!(
            inner.body,
            Some(Expr::Compare {
                op: CompareOp::Eq,
                left: Box::new(path(&["p", "displayName"])),
                right: string("Limit")
            })
        );

        assert_eq!(
            parse_expression("resources/ANY()").unwrap(),
            Expr::Path(Path {
                head: "resources".into(),
                tail: vec![],
                lambda: Some(Box::new(Lambda { kind: LambdaKind::Any, variable: None, body: None }))
            })
        );
        assert_eq!(
            parse_expression("startsWith( category , 'a' )").unwrap(),
            Expr::Call { name: "startsWith".into(), args: vec![path(&["category"]), *string("a")] }
        );
        assert_eq!(
            parse_expression("category in ()").unwrap(),
            Expr::In { left: Box::new(path(&["category"])), items: vec![] }
        );
    }

    #[test]
    fn syntax_errors_quote_odl_positions() {
        assert_eq!(error("iswhatever 12"), "Syntax error at position 13 in 'iswhatever 12'.");
        assert_eq!(
            error("category eq 'x' and"),
            "Expression expected at position 19 in 'category eq 'x' and'."
        );
        assert_eq!(
            error("(category eq 'x'"),
            "')' or operator expected at position 16 in '(category eq 'x''."
        );
        assert_eq!(
            error("contains(category 'x')"),
            "')' or ',' expected at position 18 in 'contains(category 'x')'."
        );
        assert_eq!(error("category in 'x'"), "'(' expected at position 12 in 'category in 'x''.");
        assert_eq!(error("resources/all()"), "An identifier was expected at position 14.");
        assert_eq!(
            error("resources/any(r r/x eq 'a')"),
            "Syntax error at position 17 in 'resources/any(r r/x eq 'a')'."
        );
        assert_eq!(error("category/'x' eq 'y'"), "Syntax error at position 12 in 'category/'x' eq 'y''.");
        assert_eq!(error(""), "Expression expected at position 0 in ''.");
        assert_eq!(error("category eq 'x')"), "Syntax error at position 16 in 'category eq 'x')'.");
    }

    #[test]
    fn an_earlier_syntax_error_wins_over_a_later_lexical_error() {
        assert_eq!(
            error("a eq 'x' ) 'unterminated"),
            "Syntax error at position 10 in 'a eq 'x' ) 'unterminated'."
        );
        assert!(
            error("a eq 'x' and b eq 'unterminated").starts_with("There is an unterminated string literal")
        );
    }

    #[test]
    fn depth_is_bounded() {
        let deep_parens = format!("{}a eq 'x'{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        assert_eq!(error(&deep_parens), "Recursion depth exceeded allowed limit.");
        let deep_not = format!("{}a", "not ".repeat(MAX_DEPTH + 1));
        assert_eq!(error(&deep_not), "Recursion depth exceeded allowed limit.");
        let long_chain = vec!["a eq 'x'"; MAX_DEPTH + 1].join(" or ");
        assert_eq!(error(&long_chain), "Recursion depth exceeded allowed limit.");
        let fine_chain = vec!["a eq 'x'"; MAX_DEPTH / 2].join(" or ");
        assert!(parse_expression(&fine_chain).is_ok());
    }

    #[test]
    fn values_are_bounded_in_all() {
        let list = |n: usize| (0..n).map(|i| format!("'v{i}'")).collect::<Vec<_>>().join(",");
        assert!(parse_expression(&format!("a in ({})", list(MAX_VALUES))).is_ok());
        let too_many = format!("a in ({})", list(MAX_VALUES + 1));
        assert_eq!(error(&too_many), ODataError::too_many_values().message);
        // Comparison operands count too, also split over several lists.
        let split = format!("a in ({}) and b eq 'x'", list(MAX_VALUES));
        assert_eq!(error(&split), ODataError::too_many_values().message);
    }
}
