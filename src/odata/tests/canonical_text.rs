//! Canonical text: `Display` prints the canonical OData form, which parses back to
//! the same filter.

use super::*;

#[test]
fn display_is_canonical_odata() {
    let cases = [
        ("CATEGORY EQ 'O''Neil'", "category eq 'O''Neil'"),
        ("'x' gt category", "category lt 'x'"),
        ("activityDateTime ge 2021-01-01T02:00+02:00", "activityDateTime ge 2021-01-01T00:00:00.0000000Z"),
        (
            "correlationId eq 52EFFE71-FE71-52EF-71FE-EF5271FEEF52",
            "correlationId eq 52effe71-fe71-52ef-71fe-ef5271feef52",
        ),
        (
            "(category eq 'a' or category eq 'b') and category eq 'c'",
            "(category eq 'a' or category eq 'b') and category eq 'c'",
        ),
        (
            "category eq 'a' or (category eq 'b' or category eq 'c')",
            "category eq 'a' or (category eq 'b' or category eq 'c')",
        ),
        (
            "category eq 'a' and (category eq 'b' and category eq 'c')",
            "category eq 'a' and (category eq 'b' and category eq 'c')",
        ),
        (
            "category eq 'a' or category eq 'b' or category eq 'c'",
            "category eq 'a' or category eq 'b' or category eq 'c'",
        ),
        ("NOT category in ('a',null)", "not(category in ('a',null))"),
        ("startsWith(actor/type,'It')", "startswith(actor/auditActorType,'It')"),
        (
            "resources/any(s:s/modifiedProperties/any(x:x/displayName eq 'Limit'))",
            "resources/any(r:r/modifiedProperties/any(p:p/displayName eq 'Limit'))",
        ),
        ("actor/userPermissions/all(perm: perm ne '*')", "actor/userPermissions/all(u:u ne '*')"),
        ("resources/ANY()", "resources/any()"),
    ];
    for (input, canonical) in cases {
        let parsed = filter(input);
        assert_eq!(parsed.to_string(), canonical, "{input}");
        assert_eq!(filter(canonical), parsed);
    }
}
