"""Phrase tables of the drifted demand corpora (docs/demand-corpus.md, "Drifted worlds").

``new-wording``: the operator has started selling FTTR (全屋光纤, fibre to every room: a main
gateway, a small gateway per room, fibre panels in the walls), and its owners report faults in
the words of the new product: 主网关, 从网关, 组网, 配对, 离线, 漫游切换, 光纤面板, the room. The
category is still 宽带故障, but the words the base corpus uses for it (宽带, 光猫, WiFi, 路由器,
断网, 掉线, 网速, 报修, 师傅上门) hardly appear. Consistent vocabulary over varied sentences: a
model can learn it from a few hundred labelled texts. Data only, as in ``phrases``.
"""

from __future__ import annotations

from typing import NamedTuple

from training.text.phrases import Intent


class DriftedWording(NamedTuple):
    """A category worded anew: its intents, short texts and the slots they fill."""

    category: str
    intents: tuple[Intent, ...]
    short_gists: tuple[str, ...]
    slots: dict[str, tuple[str, ...]]


# fmt: off

_FTTR_SLOTS: dict[str, tuple[str, ...]] = {
    "room": (
        "主卧", "次卧", "书房", "客厅", "儿童房", "阳台", "餐厅", "二楼", "三楼", "阁楼", "老人房",
        "衣帽间",
    ),
    "fttr": ("FTTR", "全屋光纤", "全屋千兆", "FTTR全光组网", "全屋光网", "光纤到房间"),
    "sub_unit": ("从网关", "子网关", "从设备", "小网关", "从机", "房间里的小盒子"),
    "lamp": ("橙灯", "黄灯", "ALM灯", "蓝灯一直闪", "状态灯"),
}

_FTTR_INTENTS: tuple[Intent, ...] = (
    Intent(
        (
            "{room}的{sub_unit}显示离线", "{fttr}的{sub_unit}和主网关配对不上",
            "{room}那个{sub_unit}亮{lamp}，手机搜得到但是连进去用不了",
            "{sub_unit}隔几个小时就自己离线一次", "主网关重新上电以后，{room}的{sub_unit}再没上线",
            "在APP里看{fttr}的拓扑图，{room}那台是灰色的", "{room}的{sub_unit}和主网关之间老是失联",
        ),
        (
            "能不能远程把从网关重新绑定一下", "是不是小网关坏了要换新的", "请装维人员来看看",
            "要怎么重新配对",
        ),
    ),
    Intent(
        (
            "拿着手机从{room}走到{room}，画面要停好几秒才恢复", "{fttr}的漫游切换不过去，走到{room}还连着客厅那台",
            "视频通话一换房间就冻住", "在{room}和{room}之间来回走，手机老在两个SSID之间跳",
            "组网以后出现了两个同名的SSID，手机不知道连哪个", "{fttr}的无缝漫游一点都不无缝",
        ),
        ("漫游切换能不能调灵敏一点", "两个SSID能不能合成一个", "这个切换能优化吗"),
    ),
    Intent(
        (
            "{room}墙上的光纤面板松了", "装维布的皮线光纤被门压扁了，{room}那台就亮{lamp}",
            "光纤面板旁边的尾纤弯得太厉害，{sub_unit}一直亮{lamp}", "装修刷墙把{room}的面板盖住了",
            "{room}的面板插口接触不良，一碰{sub_unit}就离线", "{room}的尾纤被猫咬坏了",
        ),
        ("麻烦安排装维重新熔纤", "面板能不能挪个位置", "尾纤要不要重新布"),
    ),
    Intent(
        (
            "{fttr}说好每个房间都千兆，{room}下载个文件要等半天", "{room}的{sub_unit}下面打视频电话，人脸一直糊",
            "买{fttr}就是为了{room}能用好，现在那里还不如以前", "{room}的{sub_unit}下面玩{app}老是跳ping",
            "主网关旁边飞快，一到{room}的{sub_unit}下面就慢得像蜗牛",
        ),
        ("那个房间的这台能不能升级固件", "是不是从网关的回传有问题", "帮我在后台看一下各房间的速率"),
    ),
    Intent(
        (
            "智家APP里{fttr}一直显示设备异常", "在小程序里添加{sub_unit}，扫码后提示绑定失败",
            "想给{room}的{sub_unit}设个儿童上网时段，APP里找不到", "换了新手机以后，{fttr}的管理员账号进不去了",
            "APP提示主网关固件升级失败，之后全家的{sub_unit}都用不了", "APP里的组网向导走到一半就报错",
        ),
        ("APP这个要怎么弄", "能不能远程恢复一下", "给个操作步骤"),
    ),
    Intent(
        (
            "{sub_unit}的电源适配器发烫，一会儿就自己重启", "停电来电以后整套{fttr}都起不来",
            "主网关的风扇声音很大，还老是自己重启", "{room}的{sub_unit}插上电没反应，灯都不亮",
            "{room}那台{sub_unit}用了{days}就坏了",
        ),
        ("设备在保修期内能换吗", "要不要寄回去检测", "请尽快安排更换"),
    ),
)

_FTTR_GISTS: tuple[str, ...] = (
    "{room}从网关离线", "FTTR用不了", "从网关亮黄灯", "组网失败", "子网关配对不了", "全屋光纤不好用",
    "漫游切不过去", "光纤面板松了", "主网关老重启",
)

# fmt: on

DRIFTED_WORDINGS: dict[str, DriftedWording] = {
    "new-wording": DriftedWording("宽带故障", _FTTR_INTENTS, _FTTR_GISTS, _FTTR_SLOTS),
}
