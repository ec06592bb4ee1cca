//! The few HTML pages of the sign-in experience: the sign-in form behind
//! /authorize, the `form_post` response, /devicelogin, error and sign-out
//! pages. Deliberately plain; every value is HTML-escaped.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}\
         input{{display:block;width:100%;margin:.3rem 0 .8rem;padding:.4rem;box-sizing:border-box}}\
         .error{{color:#a4262c}} .note{{color:#555;font-size:.9rem}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>",
        title = escape(title),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store, no-cache"))
        .body(html)
}

fn hidden_inputs(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(k), escape(v)))
        .collect()
}

/// The sign-in form. It posts the original authorize parameters back with
/// `login` and `passwd`.
pub fn sign_in(
    action: &str,
    fields: &[(String, String)],
    app_name: &str,
    login: &str,
    error: Option<&str>,
) -> HttpResponse {
    let error = error.map(|e| format!("<p class=\"error\">{}</p>", escape(e))).unwrap_or_default();
    let body = format!(
        "<p>Sign in to <b>{app}</b> (auditgraph emulated identity platform).</p>{error}\
         <form method=\"post\" action=\"{action}\">{hidden}\
         <label>Email or user principal name<input name=\"login\" value=\"{login}\" autocomplete=\"username\" required></label>\
         <label>Password<input name=\"passwd\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\">Sign in</button></form>\
         <p class=\"note\">Development tenant users all use the documented password.</p>",
        app = escape(app_name),
        action = escape(action),
        hidden = hidden_inputs(fields),
        login = escape(login),
    );
    page(StatusCode::OK, "Sign in", &body)
}

/// `response_mode=form_post`: a page that posts the result to the client.
pub fn form_post(redirect_uri: &str, fields: &[(String, String)]) -> HttpResponse {
    let body = format!(
        "<form method=\"post\" action=\"{action}\" id=\"f\">{hidden}<noscript><button type=\"submit\">Continue</button></noscript></form>\
         <script>document.getElementById('f').submit()</script>",
        action = escape(redirect_uri),
        hidden = hidden_inputs(fields),
    );
    page(StatusCode::OK, "Working...", &body)
}

/// An error that cannot be redirected (unknown client, bad redirect URI).
pub fn error(
    status: StatusCode,
    code: u32,
    message: &str,
    trace_id: &str,
    correlation_id: &str,
) -> HttpResponse {
    let body = format!(
        "<p class=\"error\">AADSTS{code}: {msg}</p><p class=\"note\">Trace ID: {trace}<br>Correlation ID: {corr}</p>",
        msg = escape(message),
        trace = escape(trace_id),
        corr = escape(correlation_id),
    );
    page(status, "Sorry, but we're having trouble signing you in.", &body)
}

/// /devicelogin: enter the code, then sign in.
pub fn device_login(message: Option<(&str, bool)>, user_code: &str) -> HttpResponse {
    let note = match message {
        Some((text, true)) => format!("<p class=\"error\">{}</p>", escape(text)),
        Some((text, false)) => format!("<p>{}</p>", escape(text)),
        None => String::new(),
    };
    let body = format!(
        "{note}<form method=\"post\" action=\"/devicelogin\">\
         <label>Code<input name=\"otc\" value=\"{code}\" autocomplete=\"off\" required></label>\
         <label>Email or user principal name<input name=\"login\" autocomplete=\"username\" required></label>\
         <label>Password<input name=\"passwd\" type=\"password\" required></label>\
         <button type=\"submit\">Approve</button></form>\
         <p class=\"note\">Scripts can approve without this page: POST /_auditgraph/identity/devicecodes/{{user_code}}/approve.</p>",
        code = escape(user_code),
    );
    page(StatusCode::OK, "Enter code", &body)
}

/// The end of /logout when the client gave no redirect.
pub fn signed_out() -> HttpResponse {
    page(
        StatusCode::OK,
        "You signed out of your account",
        "<p>It's a good idea to close all browser windows.</p>",
    )
}
