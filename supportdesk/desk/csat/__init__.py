"""Satisfaction ratings by mail, without a web server.

A solved ticket's requester gets one mail (a canned reply) with five `mailto:` links back to
the support mailbox; each link's subject carries a signed token naming the ticket, the score
and the request. Sending the mail back is the rating. See `token` (the signature), `requests`
(who gets a request, and when) and `ratings` (what ingest does with a rating mail).
"""
