"""identity throttling by what is attacked: per entity, client address and user; code requests

Replaces the per-(user, entity) identity_attempt table, whose lock a new user id escaped.

Revision ID: b1e7d2c4a9f0
Revises: a1d3e5f70b12
Create Date: 2026-12-04 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "b1e7d2c4a9f0"
down_revision: str | Sequence[str] | None = "a1d3e5f70b12"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_throttle",
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("locked_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("locks", sa.Integer(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "subject"),
    )
    op.create_table(
        "code_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_code_request_phone", "code_request", ["phone_hash", "sent_at"])
    op.create_index("ix_code_request_client", "code_request", ["client", "sent_at"])
    op.create_index("ix_code_request_user", "code_request", ["user_id", "sent_at"])
    op.drop_table("identity_attempt")


def downgrade() -> None:
    op.create_table(
        "identity_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("uscc", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "uscc", name="uq_identity_attempt"),
    )
    op.drop_index("ix_code_request_user", table_name="code_request")
    op.drop_index("ix_code_request_client", table_name="code_request")
    op.drop_index("ix_code_request_phone", table_name="code_request")
    op.drop_table("code_request")
    op.drop_table("identity_throttle")
