"""Live fanout between the parts of kurir that hold client connections.

The bus only carries news ("user 7's log moved to pts 42, here are the bytes"); the update
log in the database stays the truth, so a lost bus message costs latency, never data: a
connection that sees a pts jump reads the missing updates from the log.
"""
