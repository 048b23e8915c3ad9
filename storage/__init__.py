"""SQLite storage. Each table family has one module, the only place its SQL lives:

db (connections, transactions, migrations), versioned (the optimistic-lock update),
models (records, states, recipients), message_keys (idempotency keys), staff_store,
child_store, episode_store (episodes and their timeline), duty_store, escalation_store,
rota_store, outbox_store, chats, inbox, reports (the managers' view), maintenance.
"""
