"""Masking personal data: by key, and by pattern inside realistic Chinese complaint texts."""

import random

import pytest

from app.capture.masking import (
    ADDRESS,
    BANK_CARD,
    EMAIL,
    ID_NUMBER,
    LANDLINE,
    NAME,
    PHONE,
    mask_document,
    mask_text,
    placeholder_for_key,
)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "我叫张伟，手机13812345678，宽带断网三天了没人修",
            f"我叫{NAME}，手机{PHONE}，宽带断网三天了没人修",
        ),
        ("号码+86 139-1234-5678一直收到骚扰短信", f"号码{PHONE}一直收到骚扰短信"),
        ("回拨0086 13912345678谢谢", f"回拨{PHONE}谢谢"),
        ("我的手机号是１３８００１３８０００", f"我的手机号是{PHONE}"),
        ("座机010-87654321打不通", f"座机{LANDLINE}打不通"),
        ("家里电话：8765432也不行", f"家里电话：{LANDLINE}也不行"),
        ("（0571）88886666转203", f"{LANDLINE}"),
        ("身份证110101199003071234办的卡", f"身份证{ID_NUMBER}办的卡"),
        ("证件号44030419850101123X，麻烦查下", f"证件号{ID_NUMBER}，麻烦查下"),
        ("邮箱 zhang.wei@example.com.cn 收不到账单", f"邮箱 {EMAIL} 收不到账单"),
        ("扣款银行卡6222 0212 3456 7890 123不对", f"扣款银行卡{BANK_CARD}不对"),
        ("住在北京市朝阳区建国路88号，信号差", f"住在{ADDRESS}，信号差"),
        ("我家在杭州市西湖区文三路 90号3幢2单元501，宽带慢", f"我家在{ADDRESS}，宽带慢"),
        ("阳光花园3栋2单元501室的宽带老是掉线", f"{ADDRESS}的宽带老是掉线"),
        ("联系人：欧阳娜娜，尽快上门", f"联系人：{NAME}，尽快上门"),
        ("王女士反映信号差", f"{NAME}女士反映信号差"),
        ("营业厅的李明经理说套餐不变", f"营业厅的{NAME}经理说套餐不变"),
        ("我是李娜，想问下套餐", f"我是{NAME}，想问下套餐"),
        ("客户张三反映网速慢", f"客户{NAME}反映网速慢"),
    ],
)
def test_complaint_texts_are_masked_with_typed_placeholders(text, masked):
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "这个月话费怎么多扣了30块，帮我查下账单",
        "出国去日本想开通国际漫游，流量包怎么收费",
        "我是全球通用户，想换个5G套餐",
        "我是王者荣耀玩家，游戏老卡",
        "请拨打10086或者400-810-8888咨询",
        "宽带报修单号2024010112，金额58元",
        "我在北京市出差，漫游怎么收费",
        "用户反映宽带很慢，已经报修三次",
        "宽带故障",
    ],
)
def test_texts_without_personal_data_stay_as_they_are(text):
    assert mask_text(text) == text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("张伟 13812345678", f"{NAME} {PHONE}"),
        ("王芳的手机号是13812345678", f"{NAME}的手机号是{PHONE}"),
        ("回电13912345678陈静静，宽带断了", f"回电{PHONE}{NAME}，宽带断了"),
        ("联系欧阳娜娜：139-1234-5678", f"联系{NAME}：{PHONE}"),
        ("张伟说13812345678是他的", f"{NAME}说{PHONE}是他的"),
        ("张伟的宽带坏了", f"{NAME}的宽带坏了"),
        ("老李 13812345678", f"{NAME} {PHONE}"),
    ],
)
def test_a_name_beside_a_phone_number_or_before_its_owner_is_masked(text, masked):
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [  # words that start with a surname, which jieba's dictionary knows are no names
        ("江苏移动 13812345678", f"江苏移动 {PHONE}"),
        ("顾客13812345678反映信号差", f"顾客{PHONE}反映信号差"),
        ("13812345678马上到", f"{PHONE}马上到"),
        ("13812345678高峰时段没信号", f"{PHONE}高峰时段没信号"),
        ("高速的手机信号很差", "高速的手机信号很差"),
        ("周末的电话打不通", "周末的电话打不通"),
    ],
)
def test_words_beside_a_phone_number_are_not_taken_for_names(text, masked):
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "id_number", ["110101 19900307 1234", "110101-19900307-123X", "110101 900307 123"]
)
def test_id_numbers_written_in_groups_are_masked(id_number):
    assert mask_text(f"身份证{id_number}办的卡") == f"身份证{ID_NUMBER}办的卡"


def test_json_numbers_that_read_as_phone_id_or_card_numbers_are_masked():
    refused = {"texts": [13812345678, "宽带断网"], "extra": {"ids": [110101199003071234]}}
    assert mask_document(refused) == {"texts": [PHONE, "宽带断网"], "extra": {"ids": [ID_NUMBER]}}
    card, plain = 6222021234567890123, [2024010112, 58, 12345678901, 1.5, True, -13812345678]
    assert mask_document({"card": card, "plain": plain}) == {"card": BANK_CARD, "plain": plain}


SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
TEMPLATES = [
    "您好，我叫{name}，我的手机{phone}从昨天开始没信号，麻烦尽快处理",
    "{name}女士来电：宽带装在{address}，报修三次没人来，联系电话{phone}",
    "客户投诉，身份证{id_number}名下多了一张卡，邮箱{email}收到陌生账单",
    "联系人：{name}，地址：{address}，手机：{phone}，要求退订彩铃",
    "我是{name}，银行卡{card}被多扣了58元话费，座机{landline}也打不通",
    "{name} {phone}，宽带断网三天了",
    "{name}的手机号是{phone}，身份证{id_grouped}，一直没信号",
]


def _random_person(rng: random.Random) -> dict[str, str]:
    birthday = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    return {
        "name": rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.randint(1, 2))),
        "phone": rng.choice(["", "+86 ", "86-"])
        + _grouped(f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}", rng),
        "id_number": f"{rng.randint(110000, 659999)}{birthday}{rng.randint(0, 999):03d}"
        + rng.choice("0123456789X"),
        "id_grouped": rng.choice([" ", "-"]).join(
            [str(rng.randint(110000, 659999)), birthday, f"{rng.randint(0, 9999):04d}"]
        ),
        "email": f"user{rng.randint(1, 99999)}@{rng.choice(['qq.com', '163.com', 'corp.cn'])}",
        "address": f"{rng.choice(['广东省深圳市南山区', '上海市浦东新区', '成都市武侯区', ''])}"
        f"{rng.choice(['科技园', '人民', '解放', '建设'])}{rng.choice(['路', '大道', '街'])}"
        f"{rng.randint(1, 999)}号{rng.randint(1, 30)}栋{rng.randint(101, 2808)}室",
        "card": f"62{rng.randint(10**14, 10**15 - 1)}{rng.randint(0, 99):02d}",
        "landline": f"0{rng.randint(10, 999)}-{rng.randint(2_000_000, 89_999_999)}",
    }


def _grouped(number: str, rng: random.Random) -> str:
    separator = rng.choice(["", " ", "-"])
    return separator.join([number[:3], number[3:7], number[7:]])


@pytest.mark.parametrize("seed", range(5))
def test_no_planted_personal_datum_survives_masking(seed):
    rng = random.Random(seed)
    for _ in range(200):
        person = _random_person(rng)
        text = rng.choice(TEMPLATES).format(**person)
        masked = mask_text(text)
        for kind, value in person.items():
            assert value not in masked, (kind, masked)
            digits = "".join(c for c in value if c.isdigit())
            assert len(digits) < 7 or digits not in "".join(c for c in masked if c.isdigit())


def test_keys_naming_personal_data_are_masked_whatever_their_spelling_or_type():
    record = {
        "Customer-Name": "张三",
        "手机号": 13800138000,
        "id_number": "110101199003071234",
        "家庭住址": {"city": "北京", "street": "幸福路8号"},
        "E_Mail": "a@b.cn",
        "region": "华东",
        "note": "找王先生",
        "phone": None,
    }
    assert mask_document(record) == {
        "Customer-Name": NAME,
        "手机号": PHONE,
        "id_number": ID_NUMBER,
        "家庭住址": ADDRESS,
        "E_Mail": EMAIL,
        "region": "华东",
        "note": f"找{NAME}先生",
        "phone": None,
    }


def test_nested_documents_are_masked_but_kept_keys_are_not():
    answer = {
        "results": [{"customer_id": "C1", "features": {"姓名": "李四", "age": 30}}],
        "models": [{"name": "churn", "version": "2", "alias": "production"}],
    }
    masked = mask_document(answer, keep=("models",))
    assert masked["results"][0]["features"] == {"姓名": NAME, "age": 30}
    assert masked["models"] == answer["models"]


def test_open_inference_tensors_keep_their_names_and_mask_personal_columns():
    body = {
        "inputs": [
            {
                "name": "text",
                "datatype": "BYTES",
                "shape": [1],
                "data": ["我叫张伟，手机13812345678"],
            },
            {"name": "客户姓名", "datatype": "BYTES", "shape": [2, 1], "data": [["李四"], [None]]},
            {"name": "phone", "datatype": "INT64", "shape": [1], "data": [13800138000]},
            {"name": "age", "datatype": "INT64", "shape": [1], "data": [30]},
        ],
        "outputs": [{"name": "category", "parameters": {"binary_data": False}}],
    }
    masked = mask_document(body)
    assert [tensor["name"] for tensor in masked["inputs"]] == ["text", "客户姓名", "phone", "age"]
    assert masked["inputs"][0]["data"] == [f"我叫{NAME}，手机{PHONE}"]
    assert masked["inputs"][1]["data"] == [[NAME], [None]]
    assert masked["inputs"][2]["data"] == [PHONE]
    assert masked["inputs"][3]["data"] == [30]
    # no datatype: not a tensor, so a "name" is a person's
    assert masked["outputs"] == [{"name": NAME, "parameters": {"binary_data": False}}]


@pytest.mark.parametrize(
    ("key", "placeholder"),
    [("Phone_Number", PHONE), ("MOBILE", PHONE), ("联系电话", PHONE), ("id-card", ID_NUMBER)],
)
def test_key_names_ignore_case_and_separators(key, placeholder):
    assert placeholder_for_key(key) == placeholder


def test_nul_characters_are_removed_for_postgresql():
    assert mask_text("宽带\x00断网") == "宽带断网"


def test_the_built_in_demand_corpus_loses_only_the_spammers_phone_numbers(demand_corpus):
    # The corpus has no customer's personal data; its spam carries contact numbers.
    placeholders = (NAME, LANDLINE, ID_NUMBER, EMAIL, ADDRESS, BANK_CARD)
    for text in demand_corpus["text"]:
        masked = mask_text(text)
        assert not any(placeholder in masked for placeholder in placeholders), masked
        assert masked == text or PHONE in masked
