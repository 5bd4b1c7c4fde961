"""Errors users can act on: a stable machine code and a message in Bahasa Indonesia and English."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    """What sort of failure this is; each adapter maps a kind to its own status once."""

    INVALID = "invalid"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    FORBIDDEN = "forbidden"
    UNAUTHORIZED = "unauthorized"
    TOO_MANY = "too_many"  # slow down: tried too often (`retry_after` seconds in the params)


# code -> (kind, Bahasa Indonesia, English). Messages may use {placeholders} filled from params.
MESSAGES: dict[str, tuple[ErrorKind, str, str]] = {
    "slot_full": (
        ErrorKind.CONFLICT,
        "Jadwal ini sudah penuh. Silakan pilih jam lain.",
        "This slot is fully booked. Please choose another time.",
    ),
    "slot_not_found": (
        ErrorKind.NOT_FOUND,
        "Jadwal tidak ditemukan.",
        "The slot was not found.",
    ),
    "slot_unavailable": (
        ErrorKind.CONFLICT,
        "Jadwal ini tidak lagi tersedia.",
        "This slot is no longer available.",
    ),
    "slot_in_past": (
        ErrorKind.INVALID,
        "Jadwal ini sudah lewat.",
        "This slot is in the past.",
    ),
    "outside_booking_window": (
        ErrorKind.INVALID,
        "Pemesanan hanya bisa dilakukan paling lama {horizon_days} hari ke depan.",
        "Bookings can be made at most {horizon_days} days ahead.",
    ),
    "booking_cutoff_passed": (
        ErrorKind.INVALID,
        "Pemesanan ditutup {cutoff_minutes} menit sebelum jadwal dimulai.",
        "Booking closes {cutoff_minutes} minutes before the slot starts.",
    ),
    "clinic_closed": (
        ErrorKind.CONFLICT,
        "Poli sedang tutup.",
        "The clinic is closed.",
    ),
    "public_holiday": (
        ErrorKind.CONFLICT,
        "Tanggal ini hari libur: {reason}.",
        "This date is a holiday: {reason}.",
    ),
    "doctor_on_leave": (
        ErrorKind.CONFLICT,
        "Dokter sedang cuti pada tanggal ini.",
        "The doctor is on leave on this date.",
    ),
    "duplicate_appointment": (
        ErrorKind.CONFLICT,
        "Pasien sudah memiliki janji temu di poli ini pada hari yang sama.",
        "The patient already has an appointment at this clinic on the same day.",
    ),
    "appointment_not_found": (
        ErrorKind.NOT_FOUND,
        "Janji temu tidak ditemukan.",
        "The appointment was not found.",
    ),
    "appointment_changed": (
        ErrorKind.CONFLICT,
        "Janji temu ini baru saja diubah. Muat ulang lalu coba lagi.",
        "This appointment was just changed. Reload it and try again.",
    ),
    "hold_not_found": (
        ErrorKind.NOT_FOUND,
        "Jadwal yang ditahan tidak ada atau waktunya sudah habis.",
        "This hold does not exist or has expired.",
    ),
    "too_many_holds": (
        ErrorKind.CONFLICT,
        "Anda sudah menahan {limit} jadwal. Pesan atau tunggu sampai waktunya habis.",
        "You already hold {limit} slots. Book them or wait until they expire.",
    ),
    "appointment_not_active": (
        ErrorKind.CONFLICT,
        "Janji temu ini sudah {status} dan tidak bisa diubah.",
        "This appointment is already {status} and cannot be changed.",
    ),
    "same_slot": (
        ErrorKind.INVALID,
        "Jadwal baru sama dengan jadwal lama.",
        "The new slot is the same as the current one.",
    ),
    "reschedule_other_clinic": (
        ErrorKind.INVALID,
        "Jadwal ulang hanya bisa ke poli yang sama.",
        "An appointment can only be rescheduled within the same clinic.",
    ),
    "service_not_in_clinic": (
        ErrorKind.INVALID,
        "Layanan ini tidak tersedia di poli tersebut.",
        "This service is not offered at that clinic.",
    ),
    "not_found": (
        ErrorKind.NOT_FOUND,
        "{entity} tidak ditemukan.",
        "{entity} was not found.",
    ),
    "already_exists": (
        ErrorKind.CONFLICT,
        "{entity} dengan {field_label} ini sudah ada.",
        "A {entity} with this {field_label} already exists.",
    ),
    "in_use": (
        ErrorKind.CONFLICT,
        "{entity} masih dipakai dan tidak bisa dihapus.",
        "The {entity} is still in use and cannot be deleted.",
    ),
    "invalid_time_range": (
        ErrorKind.INVALID,
        "Jam mulai harus sebelum jam selesai.",
        "The start time must be before the end time.",
    ),
    "invalid_date_range": (
        ErrorKind.INVALID,
        "Tanggal awal harus sebelum atau sama dengan tanggal akhir.",
        "The start date must be on or before the end date.",
    ),
    "date_range_too_long": (
        ErrorKind.INVALID,
        "Rentang tanggal paling lama {max_days} hari.",
        "The date range may span at most {max_days} days.",
    ),
    "schedule_overlap": (
        ErrorKind.CONFLICT,
        "Jadwal bertabrakan dengan jadwal lain dokter ini (hari {weekday}).",
        "The schedule overlaps another schedule of this doctor (weekday {weekday}).",
    ),
    "exception_incomplete": (
        ErrorKind.INVALID,
        "{detail_id}",
        "{detail_en}",
    ),
    "invalid_phone": (
        ErrorKind.INVALID,
        "Nomor telepon tidak valid.",
        "The phone number is not valid.",
    ),
    "invalid_nik": (
        ErrorKind.INVALID,
        "NIK harus 16 digit angka.",
        "The NIK (national ID) must be 16 digits.",
    ),
    "invalid_birth_date": (
        ErrorKind.INVALID,
        "Tanggal lahir tidak valid.",
        "The date of birth is not valid.",
    ),
    "invalid_credentials": (
        ErrorKind.UNAUTHORIZED,
        "Nama pengguna atau kata sandi salah.",
        "Incorrect username or password.",
    ),
    "sign_in_required": (
        ErrorKind.UNAUTHORIZED,
        "Silakan masuk dulu: permintaan ini perlu token akses.",
        "Please sign in first: this request needs an access token.",
    ),
    "invalid_token": (
        ErrorKind.UNAUTHORIZED,
        "Sesi tidak valid atau sudah berakhir. Silakan masuk lagi.",
        "The session is invalid or has expired. Please sign in again.",
    ),
    "too_many_attempts": (
        ErrorKind.TOO_MANY,
        "Terlalu banyak percobaan masuk yang gagal. Coba lagi dalam {retry_after} detik.",
        "Too many failed sign-ins. Try again in {retry_after} seconds.",
    ),
    "account_locked": (
        ErrorKind.TOO_MANY,
        "Akun ini dikunci setelah terlalu banyak percobaan masuk yang gagal. "
        "Hubungi admin klinik untuk membukanya.",
        "This account is locked after too many failed sign-ins. "
        "Ask the clinic's admin to unlock it.",
    ),
    "sso_failed": (
        ErrorKind.UNAUTHORIZED,
        "Masuk lewat akun organisasi gagal. Coba lagi; bila tetap gagal, hubungi admin klinik.",
        "Signing in with your organisation account failed. Try again; if it keeps failing, "
        "ask the clinic's admin.",
    ),
    "sso_expired": (
        ErrorKind.UNAUTHORIZED,
        "Proses masuk terlalu lama atau dimulai di peramban lain. Silakan mulai lagi.",
        "The sign-in took too long or was started in another browser. Please start again.",
    ),
    "sso_no_role": (
        ErrorKind.FORBIDDEN,
        "Akun organisasi Anda belum diberi peran di klinik ini. Minta admin menambahkan Anda "
        "ke grup staf yang sesuai.",
        "Your organisation account has no role at this clinic. Ask an admin to add you to the "
        "right staff group.",
    ),
    "sso_no_account": (
        ErrorKind.FORBIDDEN,
        "Belum ada akun di klinik ini untuk akun organisasi Anda. Minta admin membuatkannya.",
        "There is no account at this clinic for your organisation account. Ask an admin to "
        "make one.",
    ),
    "sso_name_taken": (
        ErrorKind.CONFLICT,
        "Nama pengguna {username} sudah dipakai akun lain di klinik ini. Minta admin "
        "mengganti salah satunya.",
        "The username {username} belongs to another account here. Ask an admin to rename "
        "one of them.",
    ),
    "sso_bad_name": (
        ErrorKind.INVALID,
        "Nama pengguna dari akun organisasi Anda tidak bisa dipakai di sini (3–120 huruf kecil, "
        "angka atau . _ @ + -).",
        "The username your organisation account gives cannot be used here (3–120 lower-case "
        "letters, digits or . _ @ + -).",
    ),
    "otp_required": (
        ErrorKind.UNAUTHORIZED,
        "Masukkan kode 6 angka dari aplikasi autentikator Anda (atau kode pemulihan).",
        "Enter the 6-digit code from your authenticator app (or a recovery code).",
    ),
    "invalid_otp": (
        ErrorKind.UNAUTHORIZED,
        "Kode tidak cocok atau sudah dipakai. Masukkan kode yang sedang tampil di aplikasi.",
        "The code does not match or was used already. Enter the code the app shows now.",
    ),
    "wrong_otp": (
        ErrorKind.INVALID,
        "Kode tidak cocok. Periksa jam ponsel Anda, lalu masukkan kode yang sedang tampil.",
        "The code does not match. Check your phone's clock, then enter the code shown now.",
    ),
    "two_factor_on": (
        ErrorKind.CONFLICT,
        "Masuk dua langkah sudah aktif untuk akun ini.",
        "Two-step sign-in is already on for this account.",
    ),
    "two_factor_off": (
        ErrorKind.CONFLICT,
        "Masuk dua langkah belum disiapkan untuk akun ini.",
        "Two-step sign-in is not set up for this account.",
    ),
    "forbidden": (
        ErrorKind.FORBIDDEN,
        "Anda tidak berhak melakukan tindakan ini.",
        "You are not allowed to do this.",
    ),
    "weak_password": (
        ErrorKind.INVALID,
        "Kata sandi minimal {min_length} karakter.",
        "The password must be at least {min_length} characters long.",
    ),
    "username_taken": (
        ErrorKind.CONFLICT,
        "Nama pengguna sudah dipakai.",
        "This username is already taken.",
    ),
    "patient_required": (
        ErrorKind.INVALID,
        "Pilih pasien untuk janji temu ini.",
        "Choose the patient for this appointment.",
    ),
    "ticket_not_found": (
        ErrorKind.NOT_FOUND,
        "Nomor antrean tidak ditemukan.",
        "The queue ticket was not found.",
    ),
    "ticket_wrong_state": (
        ErrorKind.CONFLICT,
        "Tindakan '{action}' tidak bisa dilakukan pada antrean berstatus {state}.",
        "The action '{action}' cannot be done on a ticket that is {state}.",
    ),
    "check_in_wrong_day": (
        ErrorKind.CONFLICT,
        "Janji temu ini untuk tanggal {day}, bukan hari ini.",
        "This appointment is for {day}, not today.",
    ),
    "unknown_counter": (
        ErrorKind.INVALID,
        "Loket atau ruang '{counter}' tidak terdaftar di poli ini.",
        "The counter or room '{counter}' is not set up for this clinic.",
    ),
    "queue_empty": (
        ErrorKind.NOT_FOUND,
        "Tidak ada pasien yang menunggu.",
        "Nobody is waiting.",
    ),
    "nothing_to_undo": (
        ErrorKind.CONFLICT,
        "Tidak ada tindakan yang bisa dibatalkan.",
        "There is no action to undo.",
    ),
    "patient_mismatch": (
        ErrorKind.CONFLICT,
        "Nomor rekam medis ini milik pasien dengan data lain. Periksa nama dan tanggal lahir.",
        "This medical record number belongs to a patient with other details. Check the name "
        "and date of birth.",
    ),
    "idempotency_key_reused": (
        ErrorKind.INVALID,
        "Idempotency-Key ini sudah dipakai untuk permintaan lain.",
        "This Idempotency-Key was already used for a different request.",
    ),
    "invalid_id": (
        ErrorKind.INVALID,
        "{field_label} bukan nomor id yang valid.",
        "{field_label} is not a valid id.",
    ),
    "field_required": (
        ErrorKind.INVALID,
        "{field_label} wajib diisi.",
        "{field_label} is required.",
    ),
    "field_too_long": (
        ErrorKind.INVALID,
        "{field_label} paling banyak {max_length} karakter.",
        "{field_label} may be at most {max_length} characters long.",
    ),
    "field_invalid_characters": (
        ErrorKind.INVALID,
        "{field_label} berisi karakter yang tidak diizinkan.",
        "{field_label} contains characters that are not allowed.",
    ),
    "field_out_of_range": (
        ErrorKind.INVALID,
        "{field_label} harus antara {minimum} dan {maximum}.",
        "{field_label} must be between {minimum} and {maximum}.",
    ),
    "field_invalid": (
        ErrorKind.INVALID,
        "{field_label} tidak valid.",
        "{field_label} is not valid.",
    ),
    "local_time_required": (
        ErrorKind.INVALID,
        "{field_label} harus jam setempat, tanpa zona waktu.",
        "{field_label} must be a local time of day, without a time zone.",
    ),
    "invalid_clinic_code": (
        ErrorKind.INVALID,
        "Kode poli hanya boleh huruf, angka, - dan _ (1 sampai 32 karakter).",
        "A clinic code may hold only letters, digits, - and _ (1 to 32 characters).",
    ),
    "invalid_queue_prefix": (
        ErrorKind.INVALID,
        "Awalan nomor antrean harus 1 sampai 3 huruf.",
        "The queue number prefix must be 1 to 3 letters.",
    ),
    "invalid_username": (
        ErrorKind.INVALID,
        "Nama pengguna 3 sampai 120 karakter: huruf, angka, titik, @, +, - atau _.",
        "A username has 3 to 120 characters: letters, digits, dot, @, +, - or _.",
    ),
    "invalid_role": (
        ErrorKind.INVALID,
        "Peran '{role}' tidak dikenal.",
        "Unknown role '{role}'.",
    ),
    "nothing_to_change": (
        ErrorKind.INVALID,
        "Tidak ada perubahan yang dikirim.",
        "No change was sent.",
    ),
    "mrn_immutable": (
        ErrorKind.INVALID,
        "Nomor rekam medis tidak bisa diubah.",
        "The medical record number cannot be changed.",
    ),
    "priority_reason_required": (
        ErrorKind.INVALID,
        "Pasien prioritas perlu alasan (lansia, disabilitas, hamil).",
        "A priority patient needs a reason (elderly, disabled, pregnant).",
    ),
    "unknown_action": (
        ErrorKind.INVALID,
        "Tindakan '{action}' tidak dikenal.",
        "Unknown action '{action}'.",
    ),
    "wrong_password": (
        ErrorKind.INVALID,
        "Kata sandi lama salah.",
        "The current password is wrong.",
    ),
    "last_admin": (
        ErrorKind.CONFLICT,
        "Harus tetap ada paling sedikit satu admin aktif.",
        "At least one active admin must remain.",
    ),
    "invalid_language": (
        ErrorKind.INVALID,
        "Bahasa harus 'id' atau 'en'.",
        "The language must be 'id' or 'en'.",
    ),
    "invalid_message_text": (
        ErrorKind.INVALID,
        "Isi pesan wajib diisi, paling banyak 1024 karakter.",
        "The message text is required, at most 1024 characters.",
    ),
    "invalid_message_subject": (
        ErrorKind.INVALID,
        "Judul pesan satu baris, paling banyak 120 karakter.",
        "The subject is one line of at most 120 characters.",
    ),
    "unknown_placeholder": (
        ErrorKind.INVALID,
        "Isian {{{name}}} tidak dikenal. Yang bisa dipakai: {allowed}.",
        "Unknown placeholder {{{name}}}. You can use: {allowed}.",
    ),
    "invalid_placeholder": (
        ErrorKind.INVALID,
        "Tanda kurung kurawal harus berpasangan, misalnya {{patient}}; tulis {{{{ untuk {{.",
        "Braces must come in pairs, such as {{patient}}; write {{{{ for {{.",
    ),
    "invalid_template_name": (
        ErrorKind.INVALID,
        "Nama template WhatsApp hanya huruf kecil, angka dan garis bawah.",
        "A WhatsApp template name has only lower-case letters, digits and underscores.",
    ),
    "message_not_found": (
        ErrorKind.NOT_FOUND,
        "Pesan tidak ditemukan.",
        "The message was not found.",
    ),
    "message_not_resendable": (
        ErrorKind.CONFLICT,
        "Hanya pesan yang gagal atau dilewati yang dapat dikirim ulang.",
        "Only a failed or skipped message can be sent again.",
    ),
    "invalid_email": (
        ErrorKind.INVALID,
        "Alamat e-mail tidak valid.",
        "The e-mail address is not valid.",
    ),
    "not_mobile_number": (
        ErrorKind.INVALID,
        "Masukkan nomor HP (misalnya 0812...), bukan telepon rumah.",
        "Enter a mobile number (such as 0812...), not a landline.",
    ),
}

# Field names as people read them, for messages placed next to a field.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "name": ("Nama", "Name"),
    "code": ("Kode", "Code"),
    "queue_prefix": ("Awalan antrean", "Queue prefix"),
    "specialty": ("Spesialisasi", "Specialty"),
    "duration_minutes": ("Durasi (menit)", "Duration (minutes)"),
    "slot_minutes": ("Lama slot (menit)", "Slot length (minutes)"),
    "capacity": ("Kapasitas", "Capacity"),
    "weekday": ("Hari", "Weekday"),
    "start": ("Jam mulai", "Start time"),
    "end": ("Jam selesai", "End time"),
    "opens": ("Jam buka", "Opening time"),
    "closes": ("Jam tutup", "Closing time"),
    "reason": ("Alasan", "Reason"),
    "note": ("Catatan", "Note"),
    "mrn": ("Nomor rekam medis", "Medical record number"),
    "nik": ("NIK", "NIK (national ID)"),
    "roles": ("Peran", "Roles"),
    "hours": ("Jam buka", "Opening hours"),
    "date_from": ("Tanggal awal", "Start date"),
    "date_to": ("Tanggal akhir", "End date"),
    "current_password": ("Kata sandi lama", "Current password"),
    "address": ("Alamat", "Address"),
    "bpjs_number": ("Nomor BPJS", "BPJS number"),
    "phone": ("Nomor telepon", "Phone number"),
    "birth_date": ("Tanggal lahir", "Date of birth"),
    "sex": ("Jenis kelamin", "Sex"),
    "username": ("Nama pengguna", "Username"),
    "full_name": ("Nama lengkap", "Full name"),
    "password": ("Kata sandi", "Password"),
    "counter": ("Loket", "Counter"),
    "priority_reason": ("Alasan prioritas", "Priority reason"),
    "idempotency_key": ("Idempotency-Key", "Idempotency-Key"),
    "status_code": ("Kode status", "Status code"),
    "email": ("E-mail", "E-mail"),
    "lang": ("Bahasa", "Language"),
    "language": ("Bahasa", "Language"),
    "body": ("Isi pesan", "Message text"),
    "subject": ("Judul", "Subject"),
    "whatsapp_template": ("Template WhatsApp", "WhatsApp template"),
}


def preferred_language(accept_language: str) -> str:
    """The language of ours an `Accept-Language` header prefers most: "en" or "id" (also
    when it names neither). Tags are weighed by their `q` (RFC 9110 12.5.4), in order."""
    weighed: list[tuple[float, str]] = []
    for part in accept_language.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().lower().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in ("en", "id") and weight > 0:
            weighed.append((weight, primary))
    if not weighed:
        return "id"
    best = max(weight for weight, _ in weighed)
    return next(lang for weight, lang in weighed if weight == best)


class AntreanError(Exception):
    """A rule was broken. `code` is stable; `message(lang)` is for people."""

    def __init__(self, code: str, **params: Any) -> None:
        if code not in MESSAGES:
            raise KeyError(f"unknown error code {code!r}")
        self.code = code
        self.params = params
        super().__init__(self.message("en"))

    @property
    def kind(self) -> ErrorKind:
        return MESSAGES[self.code][0]

    @property
    def field(self) -> str | None:
        """The input field the error is about, when there is one (to show it next to it)."""
        value = self.params.get("field")
        return str(value) if value is not None else None

    def message(self, lang: str = "id") -> str:
        _, text_id, text_en = MESSAGES[self.code]
        english = lang.startswith("en")
        params = dict(self.params)
        params.setdefault("entity", "Record" if english else "Data")  # when none was named
        if self.field is not None:
            labels = FIELD_LABELS.get(self.field, (self.field, self.field))
            params["field_label"] = labels[1] if english else labels[0]
        template = text_en if english else text_id
        try:
            return template.format(**params)
        except (KeyError, IndexError):
            return template
