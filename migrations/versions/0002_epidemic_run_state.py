"""The epidemic plan's run state and 三情叠加 (issue 12), from the baseline to today.

New tables: screening, followup, supplyline, shuttleseat, doorknock. New columns:
registeredperson.household_code; dutyshift.point_code, acknowledged_at, handed_over_at,
swapped_from; shelter.isolation_places; relocation.isolation, monitored. A NOT NULL
column added to a table with rows gets the model's default as its server default, so
the rows of the previous release read 0 and false there.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 17:09:46
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supplyline",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("activation_id", sa.String(), nullable=False),
        sa.Column("point_code", sa.String(), nullable=False),
        sa.Column("item", sa.String(), nullable=False),
        sa.Column("needed", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("requested", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=True),
        sa.Column("supplier", sa.String(), nullable=False),
        sa.Column("paid_by", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["activation_id"],
            ["activation.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("supplyline", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_supplyline_activation_id"), ["activation_id"], unique=False
        )

    op.create_table(
        "doorknock",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("activation_id", sa.String(), nullable=False),
        sa.Column("household_code", sa.String(), nullable=False),
        sa.Column("village_code", sa.String(), nullable=False),
        sa.Column("grid_code", sa.String(), nullable=True),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("knocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activation_id"],
            ["activation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["household_code"],
            ["household.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("doorknock", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_doorknock_activation_id"), ["activation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_doorknock_village_code"), ["village_code"], unique=False
        )

    op.create_table(
        "followup",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("activation_id", sa.String(), nullable=False),
        sa.Column("person_id", sa.String(), nullable=False),
        sa.Column("village_code", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("cadre_code", sa.String(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.String(length=32), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("escalated_to", sa.String(), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activation_id"],
            ["activation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["registeredperson.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("followup", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_followup_activation_id"), ["activation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_followup_village_code"), ["village_code"], unique=False
        )

    op.create_table(
        "screening",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("activation_id", sa.String(), nullable=False),
        sa.Column("person_id", sa.String(), nullable=False),
        sa.Column("village_code", sa.String(), nullable=False),
        sa.Column("household_code", sa.String(), nullable=True),
        sa.Column("risk", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("monitoring_days", sa.Integer(), nullable=False),
        sa.Column("monitoring_until", sa.Date(), nullable=True),
        sa.Column("test", sa.Boolean(), nullable=False),
        sa.Column("cadre_code", sa.String(), nullable=True),
        sa.Column("screened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["activation_id"],
            ["activation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["registeredperson.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("screening", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_screening_activation_id"), ["activation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_screening_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_screening_village_code"), ["village_code"], unique=False
        )

    op.create_table(
        "shuttleseat",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("activation_id", sa.String(), nullable=False),
        sa.Column("household_code", sa.String(), nullable=False),
        sa.Column("village_code", sa.String(), nullable=False),
        sa.Column("wheelchair", sa.Boolean(), nullable=False),
        sa.Column("vehicle_code", sa.String(), nullable=True),
        sa.Column("trip", sa.Integer(), nullable=True),
        sa.Column("pickup_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unassigned_reason", sa.String(), nullable=False),
        sa.Column("vaccinated", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["activation_id"],
            ["activation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["household_code"],
            ["household.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("shuttleseat", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shuttleseat_activation_id"), ["activation_id"], unique=False
        )

    with op.batch_alter_table("dutyshift", schema=None) as batch_op:
        batch_op.add_column(sa.Column("point_code", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("swapped_from", sa.String(), nullable=True))

    with op.batch_alter_table("registeredperson", schema=None) as batch_op:
        batch_op.add_column(sa.Column("household_code", sa.String(), nullable=True))

    with op.batch_alter_table("relocation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("isolation", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("monitored", sa.Integer(), nullable=False, server_default="0")
        )

    with op.batch_alter_table("shelter", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("isolation_places", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("shelter", schema=None) as batch_op:
        batch_op.drop_column("isolation_places")

    with op.batch_alter_table("relocation", schema=None) as batch_op:
        batch_op.drop_column("monitored")
        batch_op.drop_column("isolation")

    with op.batch_alter_table("registeredperson", schema=None) as batch_op:
        batch_op.drop_column("household_code")

    with op.batch_alter_table("dutyshift", schema=None) as batch_op:
        batch_op.drop_column("swapped_from")
        batch_op.drop_column("handed_over_at")
        batch_op.drop_column("acknowledged_at")
        batch_op.drop_column("point_code")

    with op.batch_alter_table("shuttleseat", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shuttleseat_activation_id"))

    op.drop_table("shuttleseat")
    with op.batch_alter_table("screening", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_screening_village_code"))
        batch_op.drop_index(batch_op.f("ix_screening_person_id"))
        batch_op.drop_index(batch_op.f("ix_screening_activation_id"))

    op.drop_table("screening")
    with op.batch_alter_table("followup", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_followup_village_code"))
        batch_op.drop_index(batch_op.f("ix_followup_activation_id"))

    op.drop_table("followup")
    with op.batch_alter_table("doorknock", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_doorknock_village_code"))
        batch_op.drop_index(batch_op.f("ix_doorknock_activation_id"))

    op.drop_table("doorknock")
    with op.batch_alter_table("supplyline", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supplyline_activation_id"))

    op.drop_table("supplyline")
