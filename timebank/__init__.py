"""CareRoute's time bank: a double-entry ledger of integer minutes, and its rules.

Volunteers bank the minutes they serve and redeem them later for their own care or give
them to relatives; insurers and cities audit the result. The ledger follows TigerBeetle's
documented data model (accounts with debit/credit counters, immutable transfers with a
client-chosen idempotency id and a code, linked chains, two-phase transfers), stored in
SQLite or PostgreSQL through SQLAlchemy with its invariants enforced by the database as
well, and a per-account hash chain that :func:`verify` recomputes.

The package is a library: it works on a ``Session``/``Connection`` it is handed, only
flushes, and never imports the web app. See ``docs/TIMEBANK.md``.
"""

from timebank.engine import configure_sqlite
from timebank.ledger import (
    Executor,
    LedgerConflictError,
    create_transfers,
    find_account,
    get_account,
    get_transfer,
    get_transfers,
    lock_accounts,
    open_account,
)
from timebank.model import (
    AMOUNT_MAX_MIN,
    MINUTES_LEDGER,
    SYSTEM_OWNER,
    Account,
    AccountKind,
    Entry,
    Outcome,
    Transfer,
    TransferCode,
    TransferKind,
    TransferResult,
    TransferSpec,
)
from timebank.policy import (
    DEFAULT_POLICY,
    Correction,
    EarnResult,
    Party,
    Policy,
    PolicyError,
    SystemAccounts,
    cancel_redemption,
    complete_redemption,
    correct,
    credited_minutes,
    donate,
    earn_for_visit,
    ensure_system_accounts,
    expire_credits,
    expire_holds,
    gift,
    grant_from_pool,
    hold_redemption,
    pledge_guarantee,
    system_accounts,
)
from timebank.reports import (
    CodeTotal,
    LiabilityReport,
    Statement,
    StatementLine,
    liability_report,
    statement,
)
from timebank.schema import (
    batch_function_ddl,
    create_schema,
    drop_batch_function_ddl,
    drop_server_function_ddl,
    drop_trigger_ddl,
    metadata,
    server_function_ddl,
    trigger_ddl,
)
from timebank.verify import Problem, VerifyReport, verify

__all__ = [
    "AMOUNT_MAX_MIN",
    "DEFAULT_POLICY",
    "MINUTES_LEDGER",
    "SYSTEM_OWNER",
    "Account",
    "AccountKind",
    "CodeTotal",
    "Correction",
    "EarnResult",
    "Entry",
    "Executor",
    "LedgerConflictError",
    "LiabilityReport",
    "Outcome",
    "Party",
    "Policy",
    "PolicyError",
    "Problem",
    "Statement",
    "StatementLine",
    "SystemAccounts",
    "Transfer",
    "TransferCode",
    "TransferKind",
    "TransferResult",
    "TransferSpec",
    "VerifyReport",
    "batch_function_ddl",
    "cancel_redemption",
    "complete_redemption",
    "configure_sqlite",
    "correct",
    "create_schema",
    "create_transfers",
    "credited_minutes",
    "donate",
    "drop_batch_function_ddl",
    "drop_server_function_ddl",
    "drop_trigger_ddl",
    "earn_for_visit",
    "ensure_system_accounts",
    "expire_credits",
    "expire_holds",
    "find_account",
    "get_account",
    "get_transfer",
    "get_transfers",
    "gift",
    "grant_from_pool",
    "hold_redemption",
    "liability_report",
    "lock_accounts",
    "metadata",
    "open_account",
    "pledge_guarantee",
    "server_function_ddl",
    "statement",
    "system_accounts",
    "trigger_ddl",
    "verify",
]
