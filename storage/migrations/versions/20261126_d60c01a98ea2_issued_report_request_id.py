"""issued report request id: an idempotency key so a retried confirmation never issues twice

Revision ID: d60c01a98ea2
Revises: 007feb440c31
Create Date: 2026-11-26 15:15:46.122068
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "d60c01a98ea2"
down_revision: str | Sequence[str] | None = "007feb440c31"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("issued_report", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.create_unique_constraint("uq_issued_report_request_id", ["request_id"])


def downgrade() -> None:
    with op.batch_alter_table("issued_report", schema=None) as batch_op:
        batch_op.drop_constraint("uq_issued_report_request_id", type_="unique")
        batch_op.drop_column("request_id")
