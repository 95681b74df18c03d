"""department units and the intake audit log: keys write as one unit, every write leaves a trace

Existing departments keep their key; their name is their unit and their unit USCC is empty.
The audit table is append-only in the database itself: triggers refuse UPDATE and DELETE (and
TRUNCATE on PostgreSQL), so not even a bug in our own code can rewrite the trail.

Revision ID: a1d3e5f70b12
Revises: d60c01a98ea2
Create Date: 2026-12-04 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "a1d3e5f70b12"
down_revision: str | Sequence[str] | None = "d60c01a98ea2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSAL = "intake_audit is append-only"
_SQLITE_TRIGGERS = (
    f"CREATE TRIGGER intake_audit_no_update BEFORE UPDATE ON intake_audit "
    f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END",
    f"CREATE TRIGGER intake_audit_no_delete BEFORE DELETE ON intake_audit "
    f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END",
)
_POSTGRES_TRIGGERS = (
    "CREATE FUNCTION intake_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$",
    "CREATE TRIGGER intake_audit_no_change BEFORE UPDATE OR DELETE ON intake_audit "
    "FOR EACH ROW EXECUTE FUNCTION intake_audit_refuse()",
    "CREATE TRIGGER intake_audit_no_truncate BEFORE TRUNCATE ON intake_audit "
    "FOR EACH STATEMENT EXECUTE FUNCTION intake_audit_refuse()",
)


def upgrade() -> None:
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("uscc", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False, server_default="")
        )
    op.create_table(
        "intake_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("record_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("record_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    triggers = _SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else _POSTGRES_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("intake_audit")  # drops its triggers with it
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION intake_audit_refuse()")
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.drop_column("uscc")
