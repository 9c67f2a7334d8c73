"""What each check id says to a data steward: what is wrong and what to do (ja, en)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    message: str
    hint: str


#: What to do about a row with the wrong number of cells: in a text export it is a tab lost or
#: gained; in a workbook, a cell moved out of columns A-G (`validation.run` picks the wording).
SHAPE_HINT: dict[str, dict[str, str]] = {
    "ja": {
        "text": "タブ区切りのセル数 (事業の行は7つ) を確認し、抜けたタブや余分なタブを直してください。",
        "workbook": "行のセルが列 A〜G の 7 つ (事業の行) に収まっているか、ずれたセルや余分な"
        "セルがないかを確認してください。",
    },
    "en": {
        "text": "Check the number of tab-separated cells (7 for a project row).",
        "workbook": "Check that the row's cells sit in columns A-G (7 for a project row), none "
        "shifted or extra.",
    },
}

#: The same for a measure KPI row, whose 7 cells are not a project's.
KPI_SHAPE_HINT: dict[str, dict[str, str]] = {
    "ja": {
        "text": "タブ区切りのセル数 (KPI の行は7つ: KPI・KPI名・課・係・現状値→目標値・最新値・"
        "時点。「KPI 名前」と1つのセルに書いた行は、KPI名・課・係・現状値→目標値・空のセル・"
        "最新値・時点) を確認し、抜けたタブや余分なタブを直してください。",
        "workbook": "KPI の行のセルが列 A〜G の 7 つ (KPI・KPI名・課・係・現状値→目標値・"
        "最新値・時点) に収まっているか、ずれたセルや余分なセルがないかを確認してください。",
    },
    "en": {
        "text": "Check the number of tab-separated cells (7 for a KPI row: KPI, name, 課, 係, "
        "baseline→target, latest, as-of; when 'KPI name' shares one cell: name, 課, 係, "
        "baseline→target, an empty cell, latest, as-of).",
        "workbook": "Check that the KPI row's cells sit in columns A-G (KPI, name, 課, 係, "
        "baseline→target, latest, as-of), none shifted or extra.",
    },
}

MESSAGES: dict[str, dict[str, Template]] = {
    "ja": {
        "unreadable_file": Template(
            "ファイルを読めません: {detail}",
            "UTF-8 か Shift_JIS のテキスト、または .xlsx で保存し直してください。",
        ),
        "unrecognized_layout": Template(
            "{detail}", "PDCA シートの書式 (基本方針の見出しと事業一覧の表) か確認してください。"
        ),
        "fiscal_year_missing": Template(
            "{detail}",
            "事業一覧の見出しに「R3年度事業化」の形で年度を入れるか、--fiscal-year で指定してください。",
        ),
        "malformed_row": Template(
            "行の形が正しくありません ({detail})。",
            SHAPE_HINT["ja"]["text"],
        ),
        "missing_required": Template("「{column}」が空です。", "「{column}」を記入してください。"),
        "flag_invalid": Template(
            "事業化の欄「{value}」は ○ か × ではありません。",
            "実施した場合は ○、実施しなかった場合は × を記入してください。",
        ),
        "rating_invalid": Template(
            "進捗状況「{value}」は {allowed} のどれでもありません。",
            "進捗状況を {allowed} のどれかで記入してください。",
        ),
        "unknown_department": Template(
            "課「{value}」は {fiscal_year} 年度の課の一覧にありません。{suggestion}",
            "課の名前を確認してください。新設・改称なら schemas/departments.csv に追加してください。",
        ),
        "unknown_section": Template(
            "係「{value}」は {fiscal_year} 年度の係の一覧にありません。{suggestion}",
            "係の名前を確認してください。新設・改称なら schemas/departments.csv に追加してください。",
        ),
        "kpi_value_not_numeric": Template(
            "KPI の{column}「{value}」が数値ではありません。",
            "数値 (単位は付けてもよい、例: 2,398千円、88%) を記入してください。集計中なら確定後に記入してください。",
        ),
        "flag_rating_mismatch": Template(
            "事業化「{flag}」と進捗状況「{value}」が合いません ({detail})。",
            "事業化の ○/× か進捗状況を見直してください (× は E、○ は A〜D)。",
        ),
        "section_department_mismatch": Template(
            "係「{value}」はこの行のどの課 ({detail}) にも属していません。",
            "課と係の組み合わせを確認してください。",
        ),
        "kpi_unit_mismatch": Template(
            "KPI の現状値・目標値・最新値の単位が揃っていません ({detail})。",
            "同じ単位で記入してください。",
        ),
        "duplicate_project": Template(
            "同じ取組の中に同じ事業が二度あります (最初は {detail} 行目)。",
            "重複した行を削除するか、事業内容を区別してください。",
        ),
        "kpi_as_of_invalid": Template(
            "KPI の{column}{detail}。",
            "時点を年度で記入してください (例: R4年度、令和4年度、2022年度、R4年)。"
            "KPI が順調かどうか (on_track) は時点の年度で判定します。",
        ),
        "ambiguous_key_match": Template(
            "前の年度のどの事業・KPI と同じものか決められません (候補: {detail})。"
            "新しいキーを付けました。",
            "同じものなら前の年度と同じ書き方に、別のものなら区別できる書き方にしてください。",
        ),
    },
    "en": {
        "unreadable_file": Template(
            "cannot read the file: {detail}",
            "Save it again as UTF-8 or Shift_JIS text, or as .xlsx.",
        ),
        "unrecognized_layout": Template(
            "not a PDCA sheet of this layout: {detail}", "Check that it is a PDCA sheet."
        ),
        "fiscal_year_missing": Template(
            "the fiscal year cannot be found: {detail}",
            "Write it in the table header (R3年度事業化) or pass --fiscal-year.",
        ),
        "malformed_row": Template(
            "the row has the wrong shape ({detail}).",
            SHAPE_HINT["en"]["text"],
        ),
        "missing_required": Template("'{column}' is empty.", "Fill in '{column}'."),
        "flag_invalid": Template(
            "flag '{value}' is not ○ or ×.", "Write ○ if carried out, × if not."
        ),
        "rating_invalid": Template(
            "rating '{value}' is not one of {allowed}.", "Use one of {allowed}."
        ),
        "unknown_department": Template(
            "department '{value}' is not in the FY{fiscal_year} master.{suggestion}",
            "Check the name, or add it to schemas/departments.csv.",
        ),
        "unknown_section": Template(
            "section '{value}' is not in the FY{fiscal_year} master.{suggestion}",
            "Check the name, or add it to schemas/departments.csv.",
        ),
        "kpi_value_not_numeric": Template(
            "KPI {column} '{value}' is not a number.", "Write a number, optionally with a unit."
        ),
        "flag_rating_mismatch": Template(
            "flag '{flag}' and rating '{value}' disagree ({detail}).",
            "× goes with E only, ○ with A-D.",
        ),
        "section_department_mismatch": Template(
            "section '{value}' belongs to none of this row's departments ({detail}).",
            "Check the department/section pair.",
        ),
        "kpi_unit_mismatch": Template(
            "baseline, target and latest have different units ({detail}).", "Use one unit."
        ),
        "duplicate_project": Template(
            "the same project appears twice in this sub-measure (first on line {detail}).",
            "Remove the duplicate.",
        ),
        "kpi_as_of_invalid": Template(
            "KPI {column}: {detail}.",
            "Write the year, e.g. R4年度, 令和4年度, 2022年度 or R4年; on_track is judged at it.",
        ),
        "ambiguous_key_match": Template(
            "cannot tell which project or KPI of an earlier year this is (candidates: {detail}); "
            "it got a new key.",
            "Write it as in the year before if it is the same one, or distinguishably if not.",
        ),
    },
}

#: What to do about a KPI or 取組 row before any measure row (the two reasons of STRUCTURE).
NEEDS_MEASURE_HINT = {
    "ja": "この行より前に施策の行 (例「1 農業や…」: 番号と題名だけの行) が要ります。"
    "消えた施策の行を戻すか、番号を確かめてください。",
    "en": "A measure row (number and title only, e.g. 「1 農業や…」) must come first: "
    "restore it or check its number.",
}

#: Why the parser could not place a row (`malformed_row`): the detail shown in the message,
#: and what to do, which for a row out of order is not about tabs. `{cells}`: its cell count.
STRUCTURE: dict[str, dict[str, Template]] = {
    "ja": {
        "table_row_shape": Template(
            "事業一覧の表の中で、形の分からない行です (セル {cells} 個)",
            SHAPE_HINT["ja"]["text"],
        ),
        "kpi_before_measure": Template(
            "施策の行より前に KPI の行があります",
            NEEDS_MEASURE_HINT["ja"],
        ),
        "submeasure_before_measure": Template(
            "施策の行より前に取組の行があります",
            NEEDS_MEASURE_HINT["ja"],
        ),
        "project_before_submeasure": Template(
            "取組(①など)の行より前に事業の行があります",
            "この行より前に取組の行 (①②… で始まる行) が要ります。取組の記号を確かめてください。",
        ),
        "measure_number_repeated": Template(
            "施策の番号 {number} は {earlier} の別の施策で使われています",
            "施策の番号を確かめてください。直すまで、この施策の KPI・取組・事業の行は読み込まれ"
            "ません ({earlier} の施策のものとしては読みません)。",
        ),
        "after_repeated_measure": Template(
            "{line} の施策の番号が別の施策と重なっているため、どの施策のものか決められない行です",
            "{line} の施策の番号を直してください。直すまで、この行は読み込まれません "
            "(同じ番号の別の施策のものとしては読みません)。",
        ),
        "measure_number_restarts": Template(
            "施策の番号 {number} は {earlier} の別の施策で使われていて、前の施策 {previous} より"
            "大きい番号ではありません。この行の上の基本方針の見出しが消えているか、読めない形かも"
            "しれません。施策の番号が違うのかもしれません",
            "この行の上に次の基本方針の見出し (例「2)地域コミュニティの…(戦略P121)」: 番号・題名・"
            "戦略のページ) があるか確かめてください。見出しが正しければ、この施策の番号を直して"
            "ください。直すまで、この行から次の基本方針の見出しまでの行は読み込まれません "
            "(前の基本方針のものとしては読みません)。",
        ),
        "after_measure_restart": Template(
            "{line} で施策の番号が前の施策より大きくならず、前に使った番号に戻っています (基本方針の"
            "見出しが消えているかもしれません)。どの基本方針・施策のものか決められない行です",
            "{line} の上の基本方針の見出しか、{line} の施策の番号を直してください。直すまで、"
            "この行は読み込まれません (前の基本方針のものとしては読みません)。",
        ),
        "policy_heading_missing": Template(
            "事業一覧の表の中に、基本方針の概要・ねらい・現状値などの行があります。この行の上の"
            "基本方針の見出しが消えているか、読めない形です",
            "この行の上に基本方針の見出し (例「2)地域コミュニティの…(戦略P121)」: 番号・題名・"
            "戦略のページ) を書いてください。直すまで、この行から次の基本方針の見出しまでの行は"
            "読み込まれません (前の基本方針のものとしては読みません)。",
        ),
        "after_policy_heading_missing": Template(
            "{line} の上の基本方針の見出しが見当たらないため、どの基本方針のものか決められない行です",
            "{line} の上に基本方針の見出し (番号・題名・戦略のページ) を書いてください。直すまで、"
            "この行は読み込まれません (前の基本方針のものとしては読みません)。",
        ),
        "submeasure_number_repeated": Template(
            "取組の記号 {marker} は同じ施策の {earlier} の別の取組で使われています。この行の上の"
            "施策の行 (番号と題名) が消えているか、取組の記号が違うのかもしれません",
            "この行の上に施策の行 (例「3 うきはっ子…」: 番号と題名の行) があるか確かめてください。"
            "あれば、取組の記号 (①②…) を直してください。直すまで、この行から次の施策の行までの"
            "行は読み込まれません ({earlier} の施策のものとしては読みません)。",
        ),
        "after_repeated_submeasure": Template(
            "{line} の取組の記号が同じ施策の別の取組と重なっているため (施策の行が消えている"
            "かもしれません)、どの施策・取組のものか決められない行です",
            "{line} の上の施策の行か、{line} の取組の記号を直してください。直すまで、この行は"
            "読み込まれません (前の施策のものとしては読みません)。",
        ),
        "measure_line_unreadable": Template(
            "施策の行 (番号と題名) のはずの行ですが、読めません",
            "1列目を「番号 題名」(例「3 うきはっ子…」) の形に直してください。直すまで、この"
            "施策の KPI・取組・事業の行は、どの施策のものか分からないため読み込まれません。",
        ),
        "after_unreadable_measure": Template(
            "{line} の施策の行が読めないため、どの施策のものか決められない行です",
            "{line} の施策の行 (1列目「番号 題名」) を直してください。直すまで、この行は"
            "読み込まれません (前の施策のものとしては読みません)。",
        ),
        "measure_line_missing": Template(
            "前の施策の取組・事業の後に KPI の行があります。この施策の行 (番号と題名) が"
            "見当たりません",
            "この行の前に施策の行 (例「3 うきはっ子…」: 番号と題名の行) を戻してください。"
            "直すまで、この KPI と続く取組・事業の行は読み込まれません。",
        ),
        "after_missing_measure": Template(
            "{line} の KPI の前に施策の行がないため、どの施策のものか決められない行です",
            "{line} の前に施策の行 (番号と題名の行) を戻してください。直すまで、この行は"
            "読み込まれません (前の施策のものとしては読みません)。",
        ),
        "submeasure_marker_unreadable": Template(
            "取組の行のようですが、1列目が取組の記号 (①②…) で始まっていません",
            "1列目を取組の記号 (①②…) で始めてください。直すまで、この行と続く事業の行は"
            "読み込まれません。",
        ),
        "after_unreadable_submeasure": Template(
            "{line} の取組の記号が読めないため、どの取組のものか決められない事業の行です",
            "{line} の1列目を取組の記号 (①②…) で始めてください。直すまで、この行は"
            "読み込まれません (前の取組のものとしては読みません)。",
        ),
        "table_header_missing": Template(
            "事業一覧の表の見出し行がないまま、表の行 (施策・KPI・取組・事業) があります",
            "この表の前に、見出し行「事業一覧・課・係・事業内容・R3年度事業化 (年度はこの"
            "シートの年度)・具体的な取組内容(又は取り組まない理由)・進捗状況」の7つのセルを"
            "戻してください。",
        ),
        "policy_block_row": Template(
            "基本方針の概要・ねらい・KPI のどれにも当てはまらない行です",
            "1列目が「概要」「ねらい」か、3列目が「現状値」「目標値」「最新値」かを確かめてください。",
        ),
        "kpi_empty_cell_filled": Template(
            "「KPI 名前」と1つのセルに書いた KPI の行で、空のはずの5列目 (現状値→目標値の次) に"
            "「{cell}」があります",
            "この形の KPI の行 (KPI名・課・係・現状値→目標値・空のセル・最新値・時点) では5列目は"
            "空のままにします。値は6列目 (最新値) に書くか、要らなければ消してください。直すまで、この "
            "KPI は読み込まれません。",
        ),
        "before_policy": Template(
            "基本方針の見出しより前に、表の行があります",
            "基本方針の見出し (例「1)うきはの資源活用と新たな雇用の創出(戦略P119)」) を、"
            "その概要の行の前に書いてください。",
        ),
    },
    "en": {
        "table_row_shape": Template(
            "a row of unknown shape in the project table ({cells} cells)",
            SHAPE_HINT["en"]["text"],
        ),
        "kpi_before_measure": Template(
            "a KPI row before any measure row",
            NEEDS_MEASURE_HINT["en"],
        ),
        "submeasure_before_measure": Template(
            "a sub-measure row before any measure row",
            NEEDS_MEASURE_HINT["en"],
        ),
        "project_before_submeasure": Template(
            "a project row before any sub-measure row (①…)",
            "A sub-measure row (starting with ①, ②…) must come first: check its marker.",
        ),
        "measure_number_repeated": Template(
            "measure number {number} is already used by another measure at {earlier}",
            "Check the number. Until it is right, this measure's KPI, sub-measure and project "
            "rows are not loaded (they are not taken as those of the measure at {earlier}).",
        ),
        "after_repeated_measure": Template(
            "a row whose measure cannot be told: the measure number at {line} is used by "
            "another measure",
            "Correct the measure number at {line}. Until then, this row is not loaded (it is "
            "not taken as the other measure's of that number).",
        ),
        "measure_number_restarts": Template(
            "measure number {number} is already used by another measure at {earlier} and is "
            "not higher than the measure before ({previous}): a policy heading above this row "
            "may be missing or unreadable, or the number is wrong",
            "Check that the next policy's heading (number, title, strategy page, e.g. "
            "「2)地域コミュニティの…(戦略P121)」) is above this row; if it is, correct this "
            "measure's number. Until then, the rows from here to the next policy heading are "
            "not loaded (they are not taken as the previous policy's).",
        ),
        "after_measure_restart": Template(
            "a row whose policy and measure cannot be told: the measure numbers restart at "
            "{line} (a policy heading may be missing)",
            "Correct the policy heading above {line}, or the measure number at {line}. Until "
            "then, this row is not loaded (it is not taken as the previous policy's).",
        ),
        "policy_heading_missing": Template(
            "a policy's overview, aim or KPI value row inside the project table: the policy "
            "heading above it is missing or unreadable",
            "Write the policy heading (number, title, strategy page, e.g. "
            "「2)地域コミュニティの…(戦略P121)」) above this row. Until then, the rows from here "
            "to the next policy heading are not loaded (they are not taken as the previous "
            "policy's).",
        ),
        "after_policy_heading_missing": Template(
            "a row whose policy cannot be told: no policy heading above {line}",
            "Write the policy heading (number, title, strategy page) above {line}. Until then, "
            "this row is not loaded (it is not taken as the previous policy's).",
        ),
        "submeasure_number_repeated": Template(
            "sub-measure marker {marker} is already used by another sub-measure of the measure "
            "at {earlier}: the measure line (number and title) above this row may be missing, "
            "or the marker is wrong",
            "Check that the measure line (number and title, e.g. 「3 うきはっ子…」) is above "
            "this row; if it is, correct the marker (①②…). Until then, the rows from here to "
            "the next measure line are not loaded (they are not taken as the measure's at "
            "{earlier}).",
        ),
        "after_repeated_submeasure": Template(
            "a row whose measure and sub-measure cannot be told: the marker at {line} is used "
            "by another sub-measure of the measure (its measure line may be missing)",
            "Correct the measure line above {line}, or the marker at {line}. Until then, this "
            "row is not loaded (it is not taken as the previous measure's).",
        ),
        "measure_line_unreadable": Template(
            "a row where a measure line (number and title) belongs, which cannot be read",
            "Write the first cell as 'number title' (e.g. 「3 うきはっ子…」). Until then, this "
            "measure's KPI, sub-measure and project rows are not loaded.",
        ),
        "after_unreadable_measure": Template(
            "a row whose measure cannot be told: the measure line at {line} cannot be read",
            "Correct the measure line at {line} (first cell 'number title'). Until then, this "
            "row is not loaded (it is not taken as the previous measure's).",
        ),
        "measure_line_missing": Template(
            "a KPI row after the previous measure's sub-measures and projects: its measure "
            "line (number and title) is missing",
            "Restore the measure line (number and title, e.g. 「3 うきはっ子…」) before this "
            "row. Until then, this KPI and the rows after it are not loaded.",
        ),
        "after_missing_measure": Template(
            "a row whose measure cannot be told: no measure line before the KPI at {line}",
            "Restore the measure line before {line}. Until then, this row is not loaded (it is "
            "not taken as the previous measure's).",
        ),
        "submeasure_marker_unreadable": Template(
            "a sub-measure row whose first cell does not start with a marker (①②…)",
            "Start the first cell with the sub-measure marker (①②…). Until then, this row "
            "and its projects are not loaded.",
        ),
        "after_unreadable_submeasure": Template(
            "a project row whose sub-measure cannot be told: the marker at {line} cannot be read",
            "Start the first cell at {line} with its marker (①②…). Until then, this row is "
            "not loaded (it is not taken as the previous sub-measure's).",
        ),
        "table_header_missing": Template(
            "a row of the project table (measure, KPI, sub-measure or project) with no table "
            "header before it",
            "Restore the table header row before the table: 事業一覧, 課, 係, 事業内容, "
            "R3年度事業化 (this sheet's year), 具体的な取組内容(又は取り組まない理由), 進捗状況.",
        ),
        "policy_block_row": Template(
            "a row that is none of the policy's overview, aim or KPI",
            "Check that the first cell is 概要 or ねらい, or the third 現状値, 目標値 or 最新値.",
        ),
        "kpi_empty_cell_filled": Template(
            "a KPI row written 'KPI name' in one cell holds '{cell}' in its 5th cell (after "
            "baseline→target), which stays empty in this layout",
            "In this layout (name, 課, 係, baseline→target, an empty cell, latest, as-of) the 5th "
            "cell stays empty: write the value in the 6th cell (latest), or delete it. Until then, "
            "this KPI is not loaded.",
        ),
        "before_policy": Template(
            "a table row before any policy heading",
            "Write the policy heading (e.g. 「1)うきはの資源活用と新たな雇用の創出(戦略P119)」) "
            "before its 概要 row.",
        ),
    },
}

#: What to do about a measure KPI's missing target: it shares the baseline's cell.
BASELINE_TARGET_HINT = {
    "ja": "目標値は現状値と同じセルに「現状値→目標値」の形で書きます (例: 179人→230人)。"
    "矢印「→」のあとに目標値を記入してください。",
    "en": "The target shares the baseline's cell as 'baseline→target' (e.g. 179人→230人): "
    "add the arrow and the target.",
}

SUGGESTION = {"ja": "「{name}」ではありませんか。", "en": " Did you mean '{name}'?"}


def cell_count_detail(n_cells: int, lang: str, *, kpi: bool = False) -> str:
    """The detail of a row with the wrong number of cells (7 for a project or measure KPI)."""
    if lang == "en":
        return f"{'a KPI row of ' if kpi else ''}{n_cells} cells, 7 expected"
    return f"{'KPI の行の' if kpi else ''}セルが {n_cells} 個、7 個のはずです"


def as_of_detail(raw_year: str, lang: str) -> str:
    """What is wrong with a KPI value's as-of year: empty, or not a year."""
    if lang == "en":
        return f"the as-of year '{raw_year}' is not a year" if raw_year else "no as-of year"
    return f"「{raw_year}」が年度として読めません" if raw_year else "が空です"


def flag_detail(flag: str, allowed: str, lang: str) -> str:
    """The detail of a flag_rating_mismatch: the ratings the flag goes with (`× は E`)."""
    return f"{flag} goes with {allowed}" if lang == "en" else f"{flag} は {allowed}"


def render_structure(reason: str, lang: str, **fields: object) -> tuple[str, str]:
    """The detail and the hint of a row the parser could not place (`STRUCTURE`)."""
    template = STRUCTURE.get(lang, STRUCTURE["ja"])[reason]
    return template.message.format(**fields), template.hint.format(**fields)


def render(check: str, lang: str, **fields: object) -> tuple[str, str]:
    """Message and hint for a check id; unknown fields render empty."""
    table = MESSAGES.get(lang, MESSAGES["ja"])
    template = table[check]

    class _Default(dict[str, object]):
        def __missing__(self, key: str) -> str:
            return ""

    values = _Default(fields)
    return template.message.format_map(values), template.hint.format_map(values)
