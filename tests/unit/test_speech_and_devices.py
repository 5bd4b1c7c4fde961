"""What a board says, and which device links are accepted."""

from __future__ import annotations

import pytest

from antrean.adapters.web.speech import number_words, spell_label, spoken_call
from antrean.domain.devices import DeviceKind, DeviceLinkDraft
from antrean.domain.errors import AntreanError


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "nol"),
        (7, "tujuh"),
        (10, "sepuluh"),
        (11, "sebelas"),
        (15, "lima belas"),
        (20, "dua puluh"),
        (42, "empat puluh dua"),
        (100, "seratus"),
        (115, "seratus lima belas"),
        (999, "sembilan ratus sembilan puluh sembilan"),
        (1234, "satu dua tiga empat"),
    ],
)
def test_indonesian_numbers(n, words):
    assert number_words(n, "id") == words


def test_english_numbers():
    assert [number_words(n, "en") for n in (3, 13, 30, 42, 100, 205)] == [
        "three",
        "thirteen",
        "thirty",
        "forty-two",
        "one hundred",
        "two hundred five",
    ]


def test_a_ticket_is_read_character_by_character_and_a_room_as_a_number():
    assert spell_label("A-007", "id") == "A nol nol tujuh"
    assert (
        spoken_call("A-007", "Poli Umum", "Ruang 2", "id")
        == "Nomor antrean A nol nol tujuh, silakan ke Poli Umum, ruang dua."
    )
    assert spoken_call("B-120", "Poli Gigi", None, "en") == (
        "Queue number B one two zero, please go to Poli Gigi."
    )
    assert spoken_call("C-001", "Poli Anak", "Loket 12", "xx").endswith("loket dua belas.")


def test_device_links_are_checked():
    ok = DeviceLinkDraft(DeviceKind.KIOSK, " Kios 1 ", (3, 3, 4), printer="10.0.0.5:9100")
    assert ok.validated() == DeviceLinkDraft(
        DeviceKind.KIOSK, "Kios 1", (3, 4), True, "10.0.0.5:9100"
    )
    board = DeviceLinkDraft(DeviceKind.DISPLAY, "TV", (1,), printer="10.0.0.5")
    assert board.validated().printer is None  # a board prints nothing
    for bad, field in (
        (DeviceLinkDraft("phone", "X", (1,)), "kind"),
        (DeviceLinkDraft(DeviceKind.DISPLAY, "", (1,)), "name"),
        (DeviceLinkDraft(DeviceKind.DISPLAY, "TV", ()), "clinic_ids"),
        (DeviceLinkDraft(DeviceKind.DISPLAY, "TV", (0,)), "clinic_ids"),
        (DeviceLinkDraft(DeviceKind.KIOSK, "K", (1,), printer="printer; rm -rf"), "printer"),
        (DeviceLinkDraft(DeviceKind.KIOSK, "K", (1,), printer="10.0.0.5:99999"), "printer"),
    ):
        with pytest.raises(AntreanError) as err:
            bad.validated()
        assert err.value.field == field
