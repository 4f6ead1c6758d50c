"""Words an attacker tries first against a Ho Chi Minh City command centre, for the strength estimator.

zxcvbn's own dictionaries are English; these add common Vietnamese password words (written
without diacritics, as typed on a keyboard), common family and given names, places, and the
words of this system. zxcvbn ranks words given as user inputs as very likely guesses, then
applies its usual l33t, capitalisation, reversal and year patterns to them.
"""

from __future__ import annotations

# Words of the domain and the place: the first guesses against this system.
SYSTEM_WORDS = (
    "vms", "camera", "giamsat", "quantri", "admin", "administrator", "operator", "investigator", "technician",
    "thuthiem", "hamthuthiem", "ham", "cuango", "congan", "canhsat", "ubnd", "quan", "phuong", "trungtam",
    "chihuy", "hotline", "1022", "113", "114", "115",
)
# Common Vietnamese password words and phrases.
VIETNAMESE_WORDS = (
    "matkhau", "matma", "anhyeuem", "yeuem", "emyeuanh", "yeuanh", "toiyeuem", "xinchao", "vietnam", "hanoi",
    "saigon", "hochiminh", "tphcm", "hcm", "danang", "haiphong", "cantho", "conyeu", "bame", "giadinh", "hanhphuc",
    "tinhyeu", "muaxuan", "thanhcong", "chienthang", "khongbiet", "quenmatkhau", "doimatkhau", "dangnhap",
    "taikhoan", "nguoidung", "matkhaumoi", "anhoi", "emoi", "tamsu", "banbe", "hocsinh", "sinhvien",
)
# Common family names and given names (names are a classic part of a guessable password).
VIETNAMESE_NAMES = (
    "nguyen", "tran", "le", "pham", "hoang", "huynh", "phan", "vu", "vo", "dang", "bui", "do", "ho", "ngo",
    "duong", "ly", "anh", "minh", "hung", "dung", "linh", "trang", "huong", "lan", "mai", "thao", "hoa", "tuan",
    "long", "nam", "hieu", "thanh", "trung", "duc", "quang", "khanh", "ngoc", "yen", "vy", "thu", "ha", "hai",
    "son", "tam", "tien", "phong", "binh", "cuong", "dat", "huy", "khoa", "loc", "nhung", "oanh", "phuc", "quynh",
    "tai", "thinh", "vinh", "xuan", "giang", "hanh", "kim", "my", "nga", "nhi", "tu", "uyen", "van", "viet",
)

GUESSABLE_WORDS = SYSTEM_WORDS + VIETNAMESE_WORDS + VIETNAMESE_NAMES
