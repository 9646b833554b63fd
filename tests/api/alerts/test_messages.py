"""Localised alert messages: one SMS segment, the number intact, real Kazakh, local time."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.alerts.catalogs import problems, read
from api.alerts.messages import render
from api.alerts.model import Severity, Transition
from api.alerts.recipients import LANGUAGES, Language
from api.alerts.segments import DoesNotFit, fit_one_segment, segment_info
from tests.api.alerts.samples import CYRILLIC, FIGURES, LATIN, alert

DECIMAL = {"kk": ",", "ru": ",", "en": "."}
KAZAKH_LETTERS = set("әғқңөұүһі")


def test_catalogs_are_complete_and_compiled() -> None:
    """Every msgid translated in kk and ru, placeholders kept, and each .mo matches its .po."""
    assert problems() == []


def test_kazakh_catalog_is_kazakh_not_russian() -> None:
    kk = {m.id: m.string for m in read("kk") if m.id}
    ru = {m.id: m.string for m in read("ru") if m.id}
    with_letters = [text for text in kk.values() if KAZAKH_LETTERS & set(str(text))]
    # Nearly every sentence of Kazakh uses a letter Russian does not have.
    assert len(with_letters) >= 0.6 * len(kk)
    same = [msgid for msgid in kk if kk[msgid] == ru[msgid] and msgid not in ("Okrug",)]
    assert same == []


@pytest.mark.parametrize("variant", sorted(FIGURES))
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("subject", [CYRILLIC, LATIN], ids=["cyrillic", "latin"])
@pytest.mark.parametrize("transition", [Transition.opened, Transition.resolved])
def test_every_sms_fits_one_segment_and_keeps_its_number(
    variant: str, language: Language, subject: object, transition: Transition
) -> None:
    message = render(alert(variant, subject=subject, transition=transition), language)  # type: ignore[arg-type]
    info = segment_info(message.sms)
    assert info.fits, (info, message.sms)
    if language in ("kk", "ru") or subject is CYRILLIC:
        assert info.encoding == "UCS-2"
        assert info.limit == 70
    else:
        assert info.encoding == "GSM-7"
    if transition is Transition.opened:
        for number in FIGURES[variant][1]:
            assert number.format(d=DECIMAL[language]) in message.sms, message.sms
    else:
        assert message.title in message.sms


@pytest.mark.parametrize("language", LANGUAGES)
def test_long_names_are_cut_not_the_number(language: Language) -> None:
    message = render(alert("overgrazing"), language)
    # The locale's own percent: "113%" in Kazakh and English, "113 %" (no-break space) in Russian.
    assert {"kk": "113%", "ru": "113\u00a0%", "en": "113%"}[language] in message.sms
    assert "…" in message.sms  # the pasture name had to give way
    assert message.sms.startswith("!")  # critical
    # The full text keeps every name whole.
    assert "Көктерек жайлауы (солтүстік бөлігі)" in message.text
    assert "Бекболатұлы Асқардың сиыр табыны" in message.text


def test_short_names_are_not_cut() -> None:
    subject = CYRILLIC.model_copy(update={"pasture_name": "Көктерек", "herd_names": ("Асқар",)})
    message = render(alert("overgrazing", subject=subject, severity=Severity.warning), "kk")
    assert message.sms == "Көктерек: маусым нормасының 113% жейілді. Табын Асқар"


def test_language_changes_the_words() -> None:
    texts = {lang: render(alert("drought"), lang) for lang in LANGUAGES}
    assert "құрғақшылық" in texts["kk"].sms
    assert "засуха" in texts["ru"].sms
    assert "drought" in texts["en"].sms
    assert texts["kk"].title == "Құрғақшылық"
    assert "Жайылым: Көктерек" in texts["kk"].text
    assert "Пастбище: Көктерек" in texts["ru"].text


def test_times_are_local() -> None:
    almaty = render(alert("device_offline"), "ru")
    assert "14:05" in almaty.sms  # 09:05 UTC
    assert "12 июня 2026, 14:05" in almaty.text
    moscow = render(alert("device_offline"), "ru", tz="Europe/Moscow")
    assert "12:05" in moscow.sms
    assert "14:05" not in moscow.text


def test_herder_is_told_about_own_herd() -> None:
    subject = CYRILLIC.model_copy(
        update={"herd_ids": ("h-1", "h-2"), "herd_names": ("Асқар", "Нұрлан")}
    )
    message = render(alert("overgrazing", subject=subject), "kk", herd_names=("Нұрлан",))
    assert "Нұрлан" in message.sms
    assert "Асқар" not in message.sms
    assert "Асқар, Нұрлан" in message.text  # the full text names every herd present


def test_gsm7_and_ucs2_counting() -> None:
    assert segment_info("a" * 160).fits
    assert not segment_info("a" * 161).fits
    assert segment_info("€" * 80).units == 160  # extension table: two septets each
    assert segment_info("ә" * 70).fits
    assert not segment_info("ә" * 71).fits
    assert segment_info("🐄").units == 2  # outside the BMP: a surrogate pair


def test_a_template_too_long_for_any_name_is_refused() -> None:
    with pytest.raises(DoesNotFit):
        fit_one_segment(lambda n: "ә" * 69 + n["x"], {"x": "абвгдеж"})


NAMES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=120
).filter(lambda s: s.strip())


@settings(max_examples=150, deadline=None)
@given(
    variant=st.sampled_from(sorted(FIGURES)),
    language=st.sampled_from(LANGUAGES),
    pasture=NAMES,
    herd=NAMES,
)
def test_any_names_still_fit_one_segment(
    variant: str, language: Language, pasture: str, herd: str
) -> None:
    """Whatever a registry holds (emoji, control characters, 120 characters), one segment."""
    subject = CYRILLIC.model_copy(update={"pasture_name": pasture, "herd_names": (herd,)})
    sms = render(alert(variant, subject=subject), language).sms
    assert segment_info(sms).fits, sms
    assert "\n" not in sms
    for number in FIGURES[variant][1]:
        assert number.format(d=DECIMAL[language]) in sms


def test_control_characters_in_names_do_not_reach_the_text() -> None:
    subject = CYRILLIC.model_copy(
        update={"pasture_name": "Көктерек\n\u202eжайлауы\x00", "herd_names": ("Асқар\r\n",)}
    )
    message = render(alert("overgrazing", subject=subject, severity=Severity.warning), "kk")
    assert message.sms == "Көктерек жайлауы: маусым нормасының 113% жейілді. Табын Асқар"
    assert "\u202e" not in message.text
    assert "Жайылым: Көктерек жайлауы\n" in message.text
    assert message.text.endswith("Дабыл: al-0001")


def test_only_active_critical_alerts_are_marked() -> None:
    critical = render(alert("drought", severity=Severity.critical), "ru").sms
    warning = render(alert("drought", severity=Severity.warning), "ru").sms
    resolved = render(
        alert("drought", severity=Severity.critical, transition=Transition.resolved), "ru"
    ).sms
    assert critical.startswith("!")
    assert not warning.startswith("!")
    assert resolved.startswith("Снято: Засуха.")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_soil_station_is_named_by_its_pasture(language: Language) -> None:
    station = CYRILLIC.model_copy(
        update={"herd_ids": (), "herd_names": (), "device_id": "soil-kokterek-07"}
    )
    message = render(alert("device_offline", subject=station, severity=Severity.warning), language)
    assert message.sms.startswith(
        {"kk": "Байланыс жоқ", "ru": "Нет связи", "en": "No signal"}[language]
        + ": soil-kokterek-07 (Көктерек"
    )
    assert "95" in message.sms
    assert segment_info(message.sms).fits
