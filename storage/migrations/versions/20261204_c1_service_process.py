"""service process: registered, heartbeating processes that own in-flight report issuing

Revision ID: c1f3a9d2e7b4
Revises: b1e7d2c4a9f0
Create Date: 2026-12-04 03:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "c1f3a9d2e7b4"
down_revision: str | Sequence[str] | None = "b1e7d2c4a9f0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_process",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("stopped_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("service_process", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_process_heartbeat_at"), ["heartbeat_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("service_process", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_process_heartbeat_at"))
    op.drop_table("service_process")
