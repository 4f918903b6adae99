"""The onboarding page served at `/join/{token}` on the peer listener."""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

from agent.cluster.tokens import JoinToken

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title} · OpenFabric</title>
<style>
body{{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;
color:#1d2433;background:#f6f7fb}}
@media (prefers-color-scheme:dark){{body{{color:#e6e9f2;background:#12151c}}
code,pre{{background:#1d2230!important}}}}
h1{{font-size:1.5rem}} pre,code{{background:#e9ecf5;border-radius:6px}}
pre{{padding:.8rem;white-space:pre-wrap;word-break:break-all}} code{{padding:.1rem .3rem}}
.fp{{font-family:ui-monospace,monospace;word-break:break-all}} .muted{{opacity:.7}}
</style></head><body><main>
<h1>{title}</h1>
{body}
</main></body></html>"""


def _page(title: str, body: str, status: int) -> HTMLResponse:
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    }
    return HTMLResponse(
        _PAGE.format(title=escape(title), body=body), status_code=status, headers=headers
    )


def invitation_page(
    token: JoinToken, text: str, issuer_name: str, seconds_left: float
) -> HTMLResponse:
    minutes, seconds = divmod(max(0, int(seconds_left)), 60)
    fingerprint = " ".join(token.fingerprint[i : i + 4] for i in range(0, 64, 4))
    body = f"""
<p>You have been invited to join the OpenFabric cluster of <strong>{escape(issuer_name)}</strong>.
This invitation works once and expires in <strong>{minutes} min {seconds:02d} s</strong>.</p>
<h2>1. Install and start the agent on this device</h2>
<p>Get OpenFabric onto the device and start its agent: <code>make serve</code> in a checkout
of OpenFabric, or <code>openfabric serve</code> where it is installed.</p>
<h2>2. Join</h2>
<p>On that device, run:</p>
<pre>openfabric join {escape(text)}</pre>
<h2>3. Check who you are joining</h2>
<p>The agent checks this automatically. The inviting device's certificate fingerprint is:</p>
<p class="fp">{escape(fingerprint)}</p>
<p class="muted">It must match the fingerprint shown by <code>openfabric cluster token</code>
on the inviting device.</p>"""
    return _page("Join an OpenFabric cluster", body, 200)


def refusal_page(reason: str, status: int) -> HTMLResponse:
    messages = {
        "expired": "This invitation has expired. Ask for a new one with "
        "<code>openfabric cluster token</code>.",
        "used": "This invitation has already been used. Each invitation works once; ask for a "
        "new one with <code>openfabric cluster token</code>.",
        "unknown": "This invitation is not valid for this device's cluster.",
        "malformed": "This link is not a complete invitation. Was it copied whole?",
    }
    return _page("Invitation not usable", f"<p>{messages[reason]}</p>", status)
