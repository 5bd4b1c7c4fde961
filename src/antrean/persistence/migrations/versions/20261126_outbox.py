"""messages: the outbox, message texts, opt-outs, conversations, handled webhooks, scheduled
jobs; a patient's e-mail address and language

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import antrean.persistence.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = antrean.persistence.types.UTCDateTime(timezone=True)
_UNFINISHED = sa.text("state IN ('pending', 'sending')")


def upgrade() -> None:
    op.add_column("patient", sa.Column("email", sa.String(254), nullable=True))
    op.add_column("patient", sa.Column("language", sa.String(2), nullable=True))
    op.create_table(
        "outbox_message",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("facility_id", _ID, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("patient_id", _ID, nullable=True),
        sa.Column("appointment_id", _ID, nullable=True),
        sa.Column("ticket_id", _ID, nullable=True),
        sa.Column("order_key", sa.String(80), nullable=False),
        sa.Column("medium", sa.String(10), nullable=True),
        sa.Column("transport", sa.String(20), nullable=True),
        sa.Column("address", sa.String(254), nullable=True),
        sa.Column("lang", sa.String(2), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.String(80), nullable=True),
        sa.Column("due_at", _AT, nullable=False),
        sa.Column("expires_at", _AT, nullable=True),
        sa.Column("tries", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claimed_until", _AT, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("provider_id", sa.String(200), nullable=True),
        sa.Column("delivery_status", sa.String(12), nullable=True),
        sa.Column("delivery_error", sa.String(200), nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("sent_at", _AT, nullable=True),
        sa.Column("updated_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_message"),
    )
    op.create_index(
        "uq_outbox_message_dedupe_key",
        "outbox_message",
        ["dedupe_key"],
        unique=True,
        sqlite_where=sa.text("dedupe_key IS NOT NULL"),
        postgresql_where=sa.text("dedupe_key IS NOT NULL"),
    )
    op.create_index(
        "ix_outbox_message_due",
        "outbox_message",
        ["due_at", "id"],
        sqlite_where=_UNFINISHED,
        postgresql_where=_UNFINISHED,
    )
    op.create_index(
        "ix_outbox_message_order",
        "outbox_message",
        ["order_key", "id"],
        sqlite_where=_UNFINISHED,
        postgresql_where=_UNFINISHED,
    )
    op.create_index(
        "ix_outbox_message_provider",
        "outbox_message",
        ["provider_id"],
        sqlite_where=sa.text("provider_id IS NOT NULL"),
        postgresql_where=sa.text("provider_id IS NOT NULL"),
    )
    op.create_table(
        "message_text",
        sa.Column("facility_id", _ID, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("subject", sa.String(120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("whatsapp_template", sa.String(512), nullable=True),
        sa.Column("edited_at", _AT, nullable=False),
        sa.Column("edited_by", _ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name="fk_message_text_facility_id_facility"
        ),
        sa.PrimaryKeyConstraint("facility_id", "kind", "lang", name="pk_message_text"),
    )
    op.create_table(
        "contact_optout",
        sa.Column("facility_id", _ID, nullable=False),
        sa.Column("medium", sa.String(10), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name="fk_contact_optout_facility_id_facility"
        ),
        sa.PrimaryKeyConstraint("facility_id", "medium", "address", name="pk_contact_optout"),
    )
    op.create_table(
        "conversation",
        sa.Column("facility_id", _ID, nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("last_inbound_at", _AT, nullable=False),
        sa.Column("lang", sa.String(2), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name="fk_conversation_facility_id_facility"
        ),
        sa.PrimaryKeyConstraint("facility_id", "address", name="pk_conversation"),
    )
    op.create_table(
        "inbound_message",
        sa.Column("transport", sa.String(20), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("facility_id", _ID, nullable=False),
        sa.Column("received_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("transport", "message_id", name="pk_inbound_message"),
    )
    op.create_table(
        "scheduled_job",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("due_at", _AT, nullable=False),
        sa.Column("last_run_at", _AT, nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_scheduled_job"),
    )


def downgrade() -> None:
    op.drop_table("scheduled_job")
    op.drop_table("inbound_message")
    op.drop_table("conversation")
    op.drop_table("contact_optout")
    op.drop_table("message_text")
    op.drop_table("outbox_message")
    with op.batch_alter_table("patient") as batch:
        batch.drop_column("language")
        batch.drop_column("email")
