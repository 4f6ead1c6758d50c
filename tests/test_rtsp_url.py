import pytest

from vms.cameras.rtsp_url import (
    InvalidCameraUrl,
    mask_credentials,
    split_credentials,
    validate_rtsp_url,
    with_credentials,
)


@pytest.mark.parametrize("url", ["rtsp://10.0.0.5/stream1", "rtsps://cam.example:322/a?b=c", "rtsp://[::1]:8554/x"])
def test_accepts_plain_rtsp_urls(url):
    assert validate_rtsp_url(url) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "must start with rtsp:// or rtsps:// (got 'file:')"),
        ("concat:a.mp4|b.mp4", "must start with rtsp:// or rtsps:// (got 'concat:')"),
        ("subfile:,start,0,end,0,:/etc/shadow", "got 'subfile:'"),
        ("http://cam/video", "got 'http:'"),
        ("pipe:0", "got 'pipe:'"),
        ("/dev/video0", "got no scheme"),
        ("-i rtsp://x/y", "spaces"),
        ("-rtsp://x", "must not start with '-'"),
        ("rtsp://", "has no host"),
        ("rtsp://cam/x\nfile:/etc/passwd", "control characters"),
        ("rtsp://admin:secret@cam/x", "contains credentials"),
        ("rtsp://cam:99999/x", "invalid port"),
        ("", "empty"),
    ],
)
def test_refuses_everything_else_with_a_reason(url, reason):
    with pytest.raises(InvalidCameraUrl) as caught:
        validate_rtsp_url(url)
    assert reason in str(caught.value)


def test_credentials_are_split_off_and_put_back_quoted():
    bare, user, password = split_credentials("rtsp://ad%40min:p%3Ass@cam:554/s")
    assert (bare, user, password) == ("rtsp://cam:554/s", "ad@min", "p:ss")
    assert with_credentials(bare, user, password) == "rtsp://ad%40min:p%3Ass@cam:554/s"


def test_masking_hides_userinfo_and_each_secret():
    text = "open rtsp://admin:Hunter2!@cam/s failed; password Hunter2! (Hunter2%21) refused"
    masked = mask_credentials(text, "Hunter2!")
    assert "Hunter2" not in masked
    assert "rtsp://***@cam/s" in masked


def test_a_secret_is_masked_only_as_a_whole_token():
    text = "user cam refused at rtsp://cam:pw@h/s: check the camera's username (cam)"
    masked = mask_credentials(text, "cam")
    assert masked == "user *** refused at rtsp://***@h/s: check the camera's username (***)"
