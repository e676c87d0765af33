"""Storage: the Database port, its two engines, the schema and the queries.

Services run their work as *interactions*: a plain function that receives a `Tx` and runs
SQL on it inside one transaction, in a database thread (Synapse's `runInteraction` model).
The same function runs on SQLite and PostgreSQL; SQL is written once with `?` placeholders
and the few dialect differences are asked of `tx.dialect`.
"""
