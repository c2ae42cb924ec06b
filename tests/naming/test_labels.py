"""Device labels: keys, resolution order, and editing the file without losing anything."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from engine import labels as labels_module
from engine.errors import ConfigError
from engine.labels import LabelKind, LabelMatch, Labels, normalise_key, remove_label, set_label

SAMPLE = """\
# Devices at home
[labels]
"B8-27-EB-12-34-56" = "Pi access point"   # the access point itself
"192.168.1.20" = "NAS"
"Vacuum.LAN" = "Vacuum robot"
"aabb.ccdd.eeff" = "Phone"

# printers and such
"fe80::1234" = "Printer"
"""


def _sample(tmp_path: Path, text: str = SAMPLE) -> Path:
    path = tmp_path / "labels.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("AA-BB-CC-DD-EE-FF", (LabelKind.MAC, "aa:bb:cc:dd:ee:ff")),
        ("AABB.CCDD.EEFF", (LabelKind.MAC, "aa:bb:cc:dd:ee:ff")),
        ("aabbccddeeff", (LabelKind.MAC, "aa:bb:cc:dd:ee:ff")),
        ("192.168.1.20", (LabelKind.IP, "192.168.1.20")),
        ("::ffff:192.168.1.20", (LabelKind.IP, "192.168.1.20")),
        ("FE80::0:1%wlan0", (LabelKind.IP, "fe80::1")),
        ("Vacuum.LAN.", (LabelKind.HOSTNAME, "vacuum.lan")),
        ("Johns-iPhone", (LabelKind.HOSTNAME, "johns-iphone")),
        ("android_3f2a", (LabelKind.HOSTNAME, "android_3f2a")),
    ],
)
def test_normalise_key(key: str, expected: tuple[LabelKind, str]) -> None:
    assert normalise_key(key) == expected


@pytest.mark.parametrize(
    "key", ["aa:bb:cc:dd:ee", "192.168.1.300", "host name", "-vacuum", "a..b", "", "x" * 64 + ".lan"]
)
def test_keys_that_name_nothing(key: str) -> None:
    with pytest.raises(ValueError, match="neither a MAC address, an IP address nor a host name"):
        normalise_key(key)


def test_load_and_resolve(tmp_path: Path) -> None:
    labels = Labels.load(_sample(tmp_path))
    assert len(labels) == 5
    assert dict(labels.by_mac) == {"b8:27:eb:12:34:56": "Pi access point", "aa:bb:cc:dd:ee:ff": "Phone"}
    assert dict(labels.by_ip) == {"192.168.1.20": "NAS", "fe80::1234": "Printer"}
    assert dict(labels.by_hostname) == {"vacuum.lan": "Vacuum robot"}

    # MAC over IP over host name, whatever the spelling
    assert labels.label_for("b8:27:EB:12:34:56", ["192.168.1.20"], ["vacuum.lan"]) == LabelMatch(
        "Pi access point", "b8:27:eb:12:34:56"
    )
    assert labels.label_for(0xB827EB123456, [], []) == ("Pi access point", "b8:27:eb:12:34:56")
    assert labels.label_for("02:00:00:00:00:01", ["10.0.0.9", "192.168.1.20"], ["vacuum.lan"]) == (
        "NAS",
        "192.168.1.20",
    )
    assert labels.label_for(None, ["::ffff:192.168.1.20"], []) == ("NAS", "192.168.1.20")
    assert labels.label_for(None, ["10.0.0.9"], ["VACUUM.lan."]) == ("Vacuum robot", "vacuum.lan")
    assert labels.label_for(None, ["FE80::1234"], []) == ("Printer", "fe80::1234")
    assert labels.label_for("02:00:00:00:00:01", ["10.0.0.9"], ["vacuum"]) is None  # exact names only
    with pytest.raises(ValueError):
        labels.label_for("not a mac", [], [])


def test_missing_file_means_no_labels(tmp_path: Path) -> None:
    labels = Labels.load(tmp_path / "none.toml")
    assert len(labels) == 0
    assert labels.label_for("b8:27:eb:12:34:56", ["192.168.1.20"], ["nas"]) is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            '[labels]\n"AA:BB:CC:DD:EE:FF" = "a"\n"aa-bb-cc-dd-ee-ff" = "b"\n',
            "name the same mac aa:bb:cc:dd:ee:ff",
        ),
        ('[labels]\n"192.168.1.300" = "x"\n', "'192.168.1.300': '192.168.1.300' is neither"),
        ('[labels]\n"nas" = 5\n', "'nas': expected a label (a string)"),
        ('[labels]\n"nas" = "  "\n', "'nas': the label is empty"),
        ('[labels]\nvacuum.lan = "Vacuum"\n', "quote keys that contain dots"),
        ('[labels]\n"nas" = "a\\nb"\n', "control characters"),
        ('title = "x"\n[labels]\n', "unknown key 'title'"),
        ('labels = "x"\n', "'labels' must be a table"),
        ("[labels\n", "not valid TOML"),
    ],
)
def test_invalid_files(tmp_path: Path, text: str, fragment: str) -> None:
    path = _sample(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        Labels.load(path)
    assert str(caught.value).startswith(str(path))
    assert fragment in str(caught.value)


# ---- editing -----------------------------------------------------------------------------------------------


def test_set_label_creates_the_file_and_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "labels.toml"
    assert set_label(path, "AA-BB-CC-DD-EE-FF", "Vacuum robot") == "aa:bb:cc:dd:ee:ff"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# homescope device labels")
    assert text.endswith('[labels]\n"aa:bb:cc:dd:ee:ff" = "Vacuum robot"\n')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Labels.load(path).label_for("aa:bb:cc:dd:ee:ff") == ("Vacuum robot", "aa:bb:cc:dd:ee:ff")


def test_set_label_replaces_in_place_and_keeps_everything_else(tmp_path: Path) -> None:
    path = _sample(tmp_path)
    path.chmod(0o644)
    assert set_label(path, "192.168.1.20", 'NAS "big one"') == "192.168.1.20"
    assert set_label(path, "b8:27:eb:12:34:56", "Access point") == "b8:27:eb:12:34:56"
    assert path.read_text(encoding="utf-8") == SAMPLE.replace(
        '"B8-27-EB-12-34-56" = "Pi access point"   # the access point itself',
        '"b8:27:eb:12:34:56" = "Access point"',
    ).replace('"192.168.1.20" = "NAS"', '"192.168.1.20" = "NAS \\"big one\\""')
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert Labels.load(path).by_ip["192.168.1.20"] == 'NAS "big one"'


def test_set_label_appends_after_the_last_entry(tmp_path: Path) -> None:
    path = _sample(tmp_path, SAMPLE + "# trailing comment")  # no final line break
    set_label(path, "Printer2.lan", "Printer upstairs")
    assert (
        path.read_text(encoding="utf-8") == SAMPLE + '"printer2.lan" = "Printer upstairs"\n# trailing comment'
    )
    labels = Labels.load(path)
    assert labels.by_hostname == {"vacuum.lan": "Vacuum robot", "printer2.lan": "Printer upstairs"}


def test_set_label_after_an_unterminated_last_entry(tmp_path: Path) -> None:
    path = _sample(tmp_path, '[labels]\n"nas" = "NAS"')
    set_label(path, "tv", "Television")
    assert path.read_text(encoding="utf-8") == '[labels]\n"nas" = "NAS"\n"tv" = "Television"\n'


def test_set_label_keeps_crlf_line_ends_and_adds_a_table_to_a_comment_only_file(tmp_path: Path) -> None:
    crlf = _sample(tmp_path, '[labels]\r\n"nas" = "NAS"\r\n')
    set_label(crlf, "tv", "Television")
    assert crlf.read_bytes() == b'[labels]\r\n"nas" = "NAS"\r\n"tv" = "Television"\r\n'
    comments = tmp_path / "comments.toml"
    comments.write_text("# my labels\n", encoding="utf-8")
    set_label(comments, "10.0.0.2", "Router")
    assert comments.read_text(encoding="utf-8") == '# my labels\n[labels]\n"10.0.0.2" = "Router"\n'


def test_remove_label(tmp_path: Path) -> None:
    path = _sample(tmp_path)
    assert remove_label(path, "AABBCCDDEEFF") is True
    assert remove_label(path, "aa:bb:cc:dd:ee:ff") is False
    assert remove_label(tmp_path / "missing.toml", "nas") is False
    assert path.read_text(encoding="utf-8") == SAMPLE.replace('"aabb.ccdd.eeff" = "Phone"\n', "")


@pytest.mark.parametrize(
    "text",
    [
        '[labels]\n"nas" = """NAS\nbox"""\n',  # a multi-line string
        '[labels]\n"nas" = "NAS"\n"tv" = [\n]\n',  # not a string: invalid anyway
        'labels."nas" = "NAS"\n',  # the table as dotted keys
        'labels = { "nas" = "NAS" }\n',  # an inline table
    ],
)
def test_files_that_cannot_be_edited_safely_are_left_alone(tmp_path: Path, text: str) -> None:
    path = _sample(tmp_path, text)
    with pytest.raises(ConfigError):
        set_label(path, "tv", "Television")
    with pytest.raises(ConfigError):
        remove_label(path, "nas")
    assert path.read_text(encoding="utf-8") == text
    assert [p.name for p in tmp_path.iterdir()] == ["labels.toml"]  # no temporary file left behind


def test_an_edit_that_would_not_read_back_as_intended_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _sample(tmp_path)
    # a broken string writer stands in for any line edit that changes more than the one entry
    monkeypatch.setattr(labels_module, "_toml_string", lambda text: '"x"')
    with pytest.raises(ConfigError, match="would not read back as intended") as caught:
        set_label(path, "tv", "Television")
    assert caught.value.title == "Labels file not changed"
    assert path.read_text(encoding="utf-8") == SAMPLE
    assert [p.name for p in tmp_path.iterdir()] == ["labels.toml"]


def test_invalid_keys_and_labels_are_refused(tmp_path: Path) -> None:
    path = _sample(tmp_path)
    with pytest.raises(ConfigError, match="neither a MAC address") as caught:
        set_label(path, "aa:bb:cc", "x")
    assert caught.value.title == "Invalid label"
    with pytest.raises(ConfigError, match="the label is empty"):
        set_label(path, "nas", " ")
    with pytest.raises(ConfigError, match="control characters"):
        set_label(path, "nas", "two\nlines")
    assert path.read_text(encoding="utf-8") == SAMPLE


def test_writing_through_a_symbolic_link_keeps_the_link(tmp_path: Path) -> None:
    target = _sample(tmp_path)
    link = tmp_path / "link.toml"
    link.symlink_to(target)
    set_label(link, "tv", "Television")
    assert link.is_symlink()
    assert Labels.load(target).by_hostname["tv"] == "Television"


def test_unicode_labels_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "labels.toml"
    set_label(path, "kuehlschrank", "Kühlschrank 🧊")
    assert '"kuehlschrank" = "Kühlschrank 🧊"' in path.read_text(encoding="utf-8")
    assert Labels.load(path).label_for(None, [], ["KUEHLSCHRANK"]) == ("Kühlschrank 🧊", "kuehlschrank")
