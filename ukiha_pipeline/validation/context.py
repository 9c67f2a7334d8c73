"""The concrete CheckContext: rules file + department master, with per-year lookups cached."""

from __future__ import annotations

from dataclasses import dataclass, field

from ukiha_pipeline.validation.reference import DepartmentMaster, Rules, Waiver


@dataclass(eq=False)  # compared by identity: pandas compares df.attrs with ==
class RulesContext:
    rules: Rules
    master: DepartmentMaster
    waivers: tuple[Waiver, ...] = ()
    _cache: dict[int, tuple[set[str], set[str], set[tuple[str, str]]]] = field(
        default_factory=dict, repr=False
    )

    def _year(self, fiscal_year: int) -> tuple[set[str], set[str], set[tuple[str, str]]]:
        if fiscal_year not in self._cache:
            self._cache[fiscal_year] = (
                self.master.departments(fiscal_year),
                self.master.sections(fiscal_year),
                self.master.pairs(fiscal_year),
            )
        return self._cache[fiscal_year]

    def __deepcopy__(self, memo: dict[int, object]) -> RulesContext:
        # pandas deep-copies df.attrs on every operation; the context is read-only: share it
        return self

    def rating_ok(self, rating: str) -> bool:
        return rating in self.rules.ratings

    def flag_ok(self, flag: str) -> bool:
        return flag in self.rules.flag_rating

    def flag_rating_ok(self, flag: str, rating: str) -> bool:
        return rating in self.rules.flag_rating.get(flag, ())

    def department_ok(self, name: str, fiscal_year: int) -> bool:
        return name in self._year(int(fiscal_year))[0]

    def section_ok(self, name: str, fiscal_year: int) -> bool:
        return name in self._year(int(fiscal_year))[1]

    def section_belongs(self, section: str, departments: tuple[str, ...], fiscal_year: int) -> bool:
        pairs = self._year(int(fiscal_year))[2]
        return any((d, section) in pairs for d in departments)
