"""GitHub as a place where releases happen: a deployment protection rule (a GitHub App,
or a token, answering ``deployment_protection_rule`` webhooks with approved, rejected or,
for a DELAY, a comment now and the approval at the window) and outcomes from
``deployment_status`` webhooks.

    config      secrets from the environment, the ``[github]`` policy table
    signature   X-Hub-Signature-256
    events      the webhook payloads this integration reads, and their mapping
    auth        App JWT -> installation token (cached), or a plain token
    client      the review callback, with retries and a timeout
    reviewer    the background thread that decides and answers GitHub, now and at windows
    hub         what the API calls: take a delivery, record an outcome
"""
