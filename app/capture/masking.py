"""Masking personal data before a captured request is stored.

Two passes, both replacing what they find with a typed placeholder (``〔手机号〕``) so that a
masked text keeps its sentence shape for replay:

- by key: in a JSON object, the value of a key that names personal data (``phone``, ``手机号``,
  ``Customer-Name``...; case and separators ignored) is replaced whole, whatever its type;
- by pattern: inside every string value, e-mail addresses, ID numbers, bank card numbers,
  mobile and landline numbers, street addresses, and person names where the wording marks
  them (``我叫…``, ``…女士``) or a datum stands beside them; and JSON numbers that read as a
  phone, ID or card number.

The patterns are rules, not a model: docs/request-capture.md lists what they miss and what they
over-mask. Person names are found by cue words (我叫, 女士), and beside a phone or ID number
(张伟 13812345678, 王芳的手机号是) where jieba's dictionary says the characters are a name
(name_tagger). Not jieba's tagger on every text: it costs 0.1 to 1.4 ms per text (measured
there), more than classifying the text does; on the few candidates, 20-50 µs each.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection
from typing import Any

from app.capture.name_tagger import name_length

PHONE, LANDLINE, ID_NUMBER, BANK_CARD = "〔手机号〕", "〔电话〕", "〔身份证号〕", "〔银行卡号〕"
EMAIL, ADDRESS, NAME = "〔邮箱〕", "〔地址〕", "〔姓名〕"

_KEYS = {
    NAME: "name fullname realname customername username contactname 姓名 客户姓名 名字 "
    "真实姓名 用户姓名 联系人 联系人姓名 机主姓名",
    PHONE: "phone phonenumber phoneno mobile mobilephone mobileno cellphone tel telephone "
    "contactphone msisdn 手机 手机号 手机号码 电话 电话号码 联系电话 联系方式 固话 座机",
    ID_NUMBER: "idnumber idno idcard idcardno idcardnumber nationalid 身份证 身份证号 "
    "身份证号码 证件号 证件号码",
    ADDRESS: "address addr homeaddress streetaddress 地址 住址 家庭住址 联系地址 详细地址 "
    "安装地址 装机地址 收货地址",
    EMAIL: "email mail emailaddress 邮箱 电子邮箱 电子邮件 邮件地址",
    BANK_CARD: "bankcard bankcardno cardnumber cardno 银行卡 银行卡号 卡号",
}
PLACEHOLDER_BY_KEY = {
    key: placeholder for placeholder, keys in _KEYS.items() for key in keys.split()
}
_KEY_SEPARATORS = re.compile(r"[\s_\-.]+")

_NUMERAL = "一二三四五六七八九十百零〇两"
_CJK = "\u4e00-\u9fff"
# Characters that do not start a place name: a place pattern must not swallow "我住在".
_NOT_PLACE = "我你他她它们在住是的了到从把给和与及家就还也都要想去来说请帮被让为于对向往搬"
_PLACE_CHAR = rf"[^\W\d_{_NOT_PLACE}]"
_UNIT = rf"[\dA-Za-z{_NUMERAL}\-]+(?:号楼|栋|幢|座|单元|层|楼|室|号|户|组)"

_EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
# Region, birth date and sequence may be written apart: 110101 19900307 1234, 110101-19900307-123X.
_ID_NUMBER = (
    r"(?<![0-9A-Za-z])[1-9]\d{5}[ \-]?(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    r"[ \-]?\d{3}[0-9Xx](?![0-9A-Za-z])"
    r"|(?<!\d)[1-9]\d{5}[ \-]?\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[ \-]?\d{3}(?!\d)"  # 15: pre-1999
)
_BANK_CARD = r"(?<!\d)(?:\d{4}[ \-]?){3}\d{4}(?:[ \-]?\d{1,3})?(?!\d)"
_MOBILE = r"(?<!\d)(?:(?:\+|00)?86[ \-]?)?1[3-9]\d[ \-]?\d{4}[ \-]?\d{4}(?!\d)"
_LANDLINE = (
    r"(?<!\d)(?:[(（]0\d{2,3}[)）]|0\d{2,3}[ \-]?)[1-9]\d{6,7}(?:[\-转]\d{1,5})?(?!\d)"
    r"|(?P<cue>(?:座机|固话|电话|致电)[:： ]?)[2-9]\d{6,7}(?!\d)"
)
_ADMIN = (
    rf"(?:{_PLACE_CHAR}{{2,6}}?(?:省|自治区|特别行政区))?(?:{_PLACE_CHAR}{{1,6}}?(?:市|州|盟))?"
    rf"(?:{_PLACE_CHAR}{{1,6}}?(?:区|县|旗))?(?:{_PLACE_CHAR}{{1,6}}?(?:镇|乡|街道))?"
)
_ADDRESS = (
    rf"{_ADMIN}(?:{_PLACE_CHAR}{{1,10}}?(?:路|街|大道|巷|弄|胡同)\s?[\d{_NUMERAL}\-]+号"
    rf"(?:{_PLACE_CHAR}{{0,10}}?{_UNIT})*"
    rf"|{_PLACE_CHAR}{{2,10}}?(?:小区|花园|家园|公寓|大厦|新村|苑|村|广场|社区)(?:{_UNIT})+)"
    r"(?:\d{2,4}(?!\d))?"
)
# Common surnames, less the few that mostly start ordinary words (于是, 万元, 向您, 和).
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾"
    "毛郝龚邵钱严覃武戴莫孔汤温康施牛樊葛邢齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿兰焦俞柳祝"
)
_COMPOUND_SURNAMES = "欧阳|司马|上官|诸葛|东方|皇甫|慕容|令狐|司徒|夏侯"
_SURNAME = rf"(?:{_COMPOUND_SURNAMES}|[{_SURNAMES}])"
_GIVEN = rf"[{_CJK}]"
_TITLE = "先生|女士|小姐|老师|师傅|经理|主任|阿姨|大爷|同学|工程师|律师|医生|总"
# After a strong cue the words are a name; after a weak one ("我是" 全球通用户) only when the
# name ends there (punctuation, the end, or a word that usually follows a name).
_STRONG_CUE = (
    r"我叫|我的名字是|姓名[:：]?|名字[:：]?|联系人[:：]?|机主[:：]?|户主[:：]?|客户姓名[:：]?"
)
_WEAK_CUE = r"我是|本人|客户|用户"
_AFTER_NAME = rf"(?=[^{_CJK}]|$|的|想|要|来|在|打|找|说|啊|呀|办|问|反映|投诉|咨询)"
_NAME_AFTER_CUE = (
    rf"(?P<cue>(?:{_STRONG_CUE})\s*){_SURNAME}{_GIVEN}{{1,2}}"
    rf"|(?P<weak>{_WEAK_CUE})(?!谢谢){_SURNAME}{_GIVEN}{{1,2}}?{_AFTER_NAME}"
)
_NAME_BEFORE_TITLE = rf"{_SURNAME}{_GIVEN}{{0,2}}?(?=(?:{_TITLE}))"
# A name with no cue but beside a datum: right before or after a masked number (张伟 〔手机号〕,
# 〔手机号〕张伟) or before 的手机 / 的电话... (王芳的手机号是). The shape only makes a candidate;
# jieba's dictionary says whether it is a name (name_tagger: 江苏移动 and 高速 are not).
_DATUM = f"(?:{PHONE}|{LANDLINE}|{ID_NUMBER}|{BANK_CARD}|{EMAIL})"
_CONTACT_NOUN = "手机|电话|号码|身份证|证件|银行卡|卡号|邮箱|地址|住址|宽带|账号|账户"
_CANDIDATE = rf"(?:[小老][{_SURNAMES}]|{_SURNAME}{_GIVEN}{{1,2}})"
_GAP = r"\s?[:：,，]?\s?"
_NAME_NEAR_DATUM = (
    rf"(?P<before>{_CANDIDATE})(?={_GAP}{_DATUM}|的(?:{_CONTACT_NOUN}))"
    rf"|(?<=〕)(?P<gap>{_GAP})(?P<after>{_CANDIDATE})"
)


Replacement = str | Callable[[re.Match[str]], str]


def _name_near_datum(match: re.Match[str]) -> str:
    """The candidate's name part masked, if jieba's dictionary lets it be a name."""
    side = "before" if match.group("before") else "after"
    start, end = match.span(side)
    # A nickname (小王, 老李) is a name by its shape: the tagger only checks what follows.
    family = match.string[start : start + 2]
    surname = 2 if family in _COMPOUND_SURNAMES.split("|") or family[0] in "小老" else 1
    length = name_length(match.string, start, end, surname=surname)
    if not length:
        return match.group(0)
    return (match.group("gap") or "") + NAME + match.string[start + length : end]


def _after_cue(placeholder: str) -> Callable[[re.Match[str]], str]:
    """The cue that marked the datum stays (电话：〔电话〕, 我叫〔姓名〕); the datum goes."""

    def replace(match: re.Match[str]) -> str:
        cue = next((group for group in match.groups() if group), "")
        return cue + placeholder

    return replace


# Each group of rules runs only on a text its cheap hint finds something in: most strings of
# a request or an answer (categories, labels, numbers) carry nothing and cost one search each.
_RULE_GROUPS: list[tuple[re.Pattern[str], list[tuple[re.Pattern[str], Replacement]]]] = [
    (
        re.compile(r"\d{3}|@"),
        [
            (re.compile(_EMAIL), EMAIL),
            (re.compile(_ID_NUMBER), ID_NUMBER),
            (re.compile(_BANK_CARD), BANK_CARD),
            (re.compile(_MOBILE), PHONE),
            (re.compile(_LANDLINE), _after_cue(LANDLINE)),
        ],
    ),
    (
        re.compile(rf"[\d{_NUMERAL}]\s?(?:号|栋|幢|座|单元|层|楼|室|户|组)"),
        [(re.compile(_ADDRESS), ADDRESS)],
    ),
    (
        re.compile(f"{_STRONG_CUE}|{_WEAK_CUE}|{_TITLE}"),
        [(re.compile(_NAME_AFTER_CUE), _after_cue(NAME)), (re.compile(_NAME_BEFORE_TITLE), NAME)],
    ),
    (  # last: the numbers are placeholders by now
        re.compile(f"〕|的(?:{_CONTACT_NOUN})"),
        [(re.compile(_NAME_NEAR_DATUM), _name_near_datum)],
    ),
]
_FULL_WIDTH = "[０-９＠]"
_TO_HALF_WIDTH = str.maketrans("０１２３４５６７８９＠", "0123456789@")
# One search that clears a clean string (a category, a label) at once.
_ANY_HINT = re.compile("|".join([_FULL_WIDTH, "\x00", *(hint.pattern for hint, _ in _RULE_GROUPS)]))


def mask_text(text: str) -> str:
    """``text`` with every personal datum the rules find replaced by its placeholder."""
    if not _ANY_HINT.search(text):
        return text
    if "\x00" in text:  # PostgreSQL's JSONB refuses NUL
        text = text.replace("\x00", "")
    if re.search(_FULL_WIDTH, text):  # full-width digits would slip past the number patterns
        text = text.translate(_TO_HALF_WIDTH)
    for hint, rules in _RULE_GROUPS:
        if hint.search(text):
            for pattern, replacement in rules:
                text = pattern.sub(replacement, text)
    return text


@functools.lru_cache(maxsize=4096)
def placeholder_for_key(key: str) -> str | None:
    """The placeholder for a JSON key that names personal data, or None."""
    return PLACEHOLDER_BY_KEY.get(_KEY_SEPARATORS.sub("", key).lower())


def mask_document(value: Any, *, keep: Collection[str] = ()) -> Any:
    """A JSON value with personal data masked by key and by pattern; ``keep`` names top-level
    keys left as they are (the model refs of an answer, whose ``name`` is a model's)."""
    if type(value) is dict and keep:
        kept = {key: item for key, item in value.items() if key in keep}
        return _masked({key: item for key, item in value.items() if key not in keep}) | kept
    return _masked(value)


def _masked(value: Any) -> Any:
    # type() rather than isinstance: JSON has six types, and this runs for every value.
    kind = type(value)
    if kind is str:
        return mask_text(value)
    if kind is dict:
        if type(value.get("name")) is str and "datatype" in value:
            return _masked_tensor(value)
        return {_masked_key(key): _masked_item(key, item) for key, item in value.items()}
    if kind is list:
        return [_masked(item) for item in value]
    if kind is int and value >= _SHORTEST_DATUM:
        return _masked_number(value)
    return value


# A phone number has 11 digits; an ID number, a bank card more. Shorter ints are amounts, counts.
_SHORTEST_DATUM = 10**10


def _masked_number(value: int) -> int | str:
    """A JSON number that reads as a phone, ID or card number (``{"texts": [13812345678]}``,
    refused with a 422 and captured as sent) becomes its placeholder; others stay numbers."""
    digits = str(value)
    masked = mask_text(digits)
    return value if masked == digits else masked


@functools.lru_cache(maxsize=4096)  # keys repeat: the same schema, request after request
def _masked_key(key: Any) -> Any:
    return mask_text(key) if type(key) is str else key


def _masked_tensor(tensor: dict[str, Any]) -> dict[str, Any]:
    """An Open Inference Protocol tensor: its ``name`` names a column, not a person, and says
    whether its ``data`` is personal (a column named ``phone``: every element masked)."""
    placeholder = placeholder_for_key(tensor["name"])
    masked = {}
    for key, item in tensor.items():
        if key == "name":
            masked[key] = mask_text(item)
        elif key == "data" and placeholder is not None:
            masked[key] = _every_element(item, placeholder)
        else:
            masked[_masked_key(key)] = _masked_item(key, item)
    return masked


def _every_element(data: Any, placeholder: str) -> Any:
    if type(data) is list:
        return [_every_element(item, placeholder) for item in data]
    return data if data is None or data == "" else placeholder


def _masked_item(key: Any, item: Any) -> Any:
    if item is None or item == "" or type(key) is not str:
        return _masked(item)
    placeholder = placeholder_for_key(key)
    return _masked(item) if placeholder is None else placeholder
