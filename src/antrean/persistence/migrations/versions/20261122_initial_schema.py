"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 10:36:29.418276
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import antrean.persistence.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "facility",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.Text(), server_default="", nullable=False),
        sa.Column("phone", sa.String(length=32), server_default="", nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facility")),
        sa.UniqueConstraint("code", name=op.f("uq_facility_code")),
    )
    op.create_table(
        "clinic",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "facility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("queue_prefix", sa.String(length=3), nullable=False),
        sa.Column("is_open", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column(
            "created_at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_clinic_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic")),
        sa.UniqueConstraint("facility_id", "code", name=op.f("uq_clinic_facility_id_code")),
    )
    op.create_table(
        "counter",
        sa.Column(
            "facility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_counter_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("facility_id", "name", name=op.f("pk_counter")),
    )
    op.create_table(
        "doctor",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "facility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("specialty", sa.String(length=200), server_default="", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_doctor_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doctor")),
    )
    op.create_table(
        "idempotency_key",
        sa.Column(
            "facility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "resource_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "created_at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_idempotency_key_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_key")),
    )
    op.create_table(
        "patient",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "facility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("mrn", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_search", sa.String(length=200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=10), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("nik", sa.String(length=16), nullable=True),
        sa.Column("bpjs_number", sa.String(length=20), nullable=True),
        sa.Column(
            "created_at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_patient_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient")),
        sa.UniqueConstraint("facility_id", "mrn", name=op.f("uq_patient_facility_id_mrn")),
    )
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patient_facility_id_name_search"),
            ["facility_id", "name_search"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_patient_facility_id_phone"), ["facility_id", "phone"], unique=False
        )

    op.create_table(
        "clinic_hours",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "facility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "clinic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("opens_at", sa.Time(), nullable=False),
        sa.Column("closes_at", sa.Time(), nullable=False),
        sa.CheckConstraint(
            "opens_at < closes_at", name=op.f("ck_clinic_hours_opens_before_closes")
        ),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_clinic_hours_weekday_range")),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinic.id"],
            name=op.f("fk_clinic_hours_clinic_id_clinic"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_clinic_hours_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic_hours")),
    )
    with op.batch_alter_table("clinic_hours", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clinic_hours_clinic_id_weekday"), ["clinic_id", "weekday"], unique=False
        )

    op.create_table(
        "patient_day_booking",
        sa.Column(
            "facility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "patient_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "clinic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("active_count", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint(
            "active_count >= 0", name=op.f("ck_patient_day_booking_count_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_patient_day_booking_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_patient_day_booking_facility_id_facility"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_patient_day_booking_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint(
            "patient_id", "clinic_id", "day", name=op.f("pk_patient_day_booking")
        ),
    )
    op.create_table(
        "schedule",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "facility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "doctor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "clinic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("slot_minutes", sa.SmallInteger(), nullable=False),
        sa.Column("capacity", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_schedule_capacity_positive")),
        sa.CheckConstraint("slot_minutes > 0", name=op.f("ck_schedule_slot_minutes_positive")),
        sa.CheckConstraint("start_time < end_time", name=op.f("ck_schedule_start_before_end")),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_schedule_weekday_range")),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_schedule_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctor.id"], name=op.f("fk_schedule_doctor_id_doctor")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_schedule_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule")),
    )
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_schedule_doctor_id_weekday"), ["doctor_id", "weekday"], unique=False
        )

    op.create_table(
        "schedule_exception",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "facility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("doctor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("clinic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("start_time", sa.Time(), nullable=True),
        sa.Column("end_time", sa.Time(), nullable=True),
        sa.Column("reason", sa.String(length=200), server_default="", nullable=False),
        sa.CheckConstraint(
            "date_from <= date_to", name=op.f("ck_schedule_exception_dates_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_schedule_exception_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctor.id"], name=op.f("fk_schedule_exception_doctor_id_doctor")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_schedule_exception_facility_id_facility"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_exception")),
    )
    with op.batch_alter_table("schedule_exception", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_schedule_exception_facility_id_date_to"),
            ["facility_id", "date_to"],
            unique=False,
        )

    op.create_table(
        "service",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "facility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "clinic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("duration_minutes", sa.SmallInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.CheckConstraint("duration_minutes > 0", name=op.f("ck_service_duration_positive")),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_service_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_service_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service")),
    )
    with op.batch_alter_table("service", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_clinic_id"), ["clinic_id"], unique=False)

    op.create_table(
        "slot",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "facility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "doctor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "clinic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "schedule_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("start_at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.SmallInteger(), nullable=False),
        sa.Column("booked", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.CheckConstraint("booked <= capacity", name=op.f("ck_slot_booked_within_capacity")),
        sa.CheckConstraint("booked >= 0", name=op.f("ck_slot_booked_not_negative")),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_slot_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctor.id"], name=op.f("fk_slot_doctor_id_doctor")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_slot_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot")),
        sa.UniqueConstraint("doctor_id", "start_at", name=op.f("uq_slot_doctor_id_start_at")),
    )
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_slot_facility_id_clinic_id_day"),
            ["facility_id", "clinic_id", "day"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_slot_facility_id_doctor_id_day"),
            ["facility_id", "doctor_id", "day"],
            unique=False,
        )

    op.create_table(
        "user_account",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "facility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("username", sa.String(length=120), nullable=False),
        sa.Column("full_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("roles", sa.String(length=100), nullable=False),
        sa.Column(
            "patient_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("doctor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column(
            "created_at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctor.id"], name=op.f("fk_user_account_doctor_id_doctor")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_user_account_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_user_account_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("patient_id", name=op.f("uq_user_account_patient_id")),
        sa.UniqueConstraint("username", name=op.f("uq_user_account_username")),
    )
    op.create_table(
        "appointment",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "facility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("slot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "patient_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "clinic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "doctor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "service_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("start_at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "created_at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_appointment_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctor.id"], name=op.f("fk_appointment_doctor_id_doctor")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_appointment_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_appointment_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_appointment_service_id_service")
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["slot.id"], name=op.f("fk_appointment_slot_id_slot"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment")),
        sa.UniqueConstraint("facility_id", "code", name=op.f("uq_appointment_facility_id_code")),
    )
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_appointment_facility_id_day_clinic_id"),
            ["facility_id", "day", "clinic_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_appointment_patient_id_day"), ["patient_id", "day"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_appointment_slot_id"), ["slot_id"], unique=False)

    op.create_table(
        "refresh_token",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "facility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "expires_at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "revoked_at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "created_at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_refresh_token_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_refresh_token_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_token_token_hash")),
    )
    op.create_table(
        "booking_conflict",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "facility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "appointment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("slot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column(
            "detected_at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "resolved_at", antrean.persistence.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_booking_conflict_appointment_id_appointment"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_booking_conflict_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["slot.id"],
            name=op.f("fk_booking_conflict_slot_id_slot"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_conflict")),
    )
    with op.batch_alter_table("booking_conflict", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_booking_conflict_facility_id_resolved_at"),
            ["facility_id", "resolved_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("booking_conflict", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_conflict_facility_id_resolved_at"))

    op.drop_table("booking_conflict")
    op.drop_table("refresh_token")
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointment_slot_id"))
        batch_op.drop_index(batch_op.f("ix_appointment_patient_id_day"))
        batch_op.drop_index(batch_op.f("ix_appointment_facility_id_day_clinic_id"))

    op.drop_table("appointment")
    op.drop_table("user_account")
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slot_facility_id_doctor_id_day"))
        batch_op.drop_index(batch_op.f("ix_slot_facility_id_clinic_id_day"))

    op.drop_table("slot")
    with op.batch_alter_table("service", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_clinic_id"))

    op.drop_table("service")
    with op.batch_alter_table("schedule_exception", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_exception_facility_id_date_to"))

    op.drop_table("schedule_exception")
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_doctor_id_weekday"))

    op.drop_table("schedule")
    op.drop_table("patient_day_booking")
    with op.batch_alter_table("clinic_hours", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clinic_hours_clinic_id_weekday"))

    op.drop_table("clinic_hours")
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_facility_id_phone"))
        batch_op.drop_index(batch_op.f("ix_patient_facility_id_name_search"))

    op.drop_table("patient")
    op.drop_table("idempotency_key")
    op.drop_table("doctor")
    op.drop_table("counter")
    op.drop_table("clinic")
    op.drop_table("facility")
