"""Departments, employees and reporting lines: no cycles, no changes to people who have left,
well-formed codes and attributes."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

import pytest

from domain.errors import DepartmentCycle, DomainError, EmployeeHasLeft, InvalidInput, ManagerCycle
from domain.organisation import Department, Employee
from domain.provenance import Provenance, Role
from domain.text import MAX_ATTRIBUTE_VALUE, MAX_ATTRIBUTES

HR = Provenance("hr-1", Role.HR, "corr-1")
SALES = UUID("00000000-0000-0000-0000-00000000d001")
SERVICE = UUID("00000000-0000-0000-0000-00000000d002")


def hire(
    code: str = "E1",
    manager: Employee | None = None,
    attributes: dict[str, str] | None = None,
    **overrides: object,
) -> Employee:
    values: dict[str, object] = {
        "id": uuid4(),
        "code": code,
        "name": f"Person {code}",
        "department_id": SALES,
        "manager": manager,
        "job_title": "Account manager",
        "hire_date": date(2021, 5, 1),
        "attributes": attributes if attributes is not None else {},
        "provenance": HR,
    }
    values.update(overrides)
    employee = Employee.hire(**values)  # type: ignore[arg-type]
    employee.collect_events()
    return employee


def department(code: str = "SALES", parent_id: UUID | None = None) -> Department:
    opened = Department.open(
        id=uuid4(), code=code, name=f"Dept {code}", parent_id=parent_id, provenance=HR
    )
    opened.collect_events()
    return opened


def assert_rejected(
    error: type[DomainError], field: str | None, excinfo: pytest.ExceptionInfo[DomainError]
) -> None:
    assert type(excinfo.value) is error
    assert excinfo.value.field == field


# -- reporting lines --------------------------------------------------------------------------


def test_an_employee_cannot_report_to_someone_who_reports_to_them() -> None:
    # boss <- middle <- junior; making boss report to junior would close the loop.
    boss = hire("BOSS")
    middle = hire("MID", manager=boss)
    junior = hire("JUN", manager=middle)
    chain = [junior.id, middle.id, boss.id]  # junior, then everyone above junior
    with pytest.raises(DomainError) as caught:
        boss.change_manager(junior, chain, HR)
    assert_rejected(ManagerCycle, "managerId", caught)
    assert boss.manager_id is None
    assert boss.collect_events() == []


def test_an_employee_cannot_report_to_themselves() -> None:
    employee = hire("E1")
    with pytest.raises(DomainError) as caught:
        employee.change_manager(employee, [employee.id], HR)
    assert_rejected(ManagerCycle, "managerId", caught)


def test_an_employee_may_report_to_someone_outside_their_own_reports() -> None:
    boss = hire("BOSS")
    other_boss = hire("BOSS2")
    employee = hire("E1", manager=boss)
    employee.change_manager(other_boss, [other_boss.id], HR)
    assert employee.manager_id == other_boss.id
    (changed,) = employee.collect_events()
    assert vars(changed)["manager_id"] == other_boss.id


def test_a_manager_can_be_removed() -> None:
    boss = hire("BOSS")
    employee = hire("E1", manager=boss)
    employee.change_manager(None, [], HR)
    assert employee.manager_id is None


def test_changing_to_the_current_manager_is_rejected() -> None:
    boss = hire("BOSS")
    employee = hire("E1", manager=boss)
    with pytest.raises(DomainError) as caught:
        employee.change_manager(boss, [boss.id], HR)
    assert_rejected(InvalidInput, "managerId", caught)


def test_someone_who_has_left_cannot_become_a_manager() -> None:
    former = hire("OLD")
    former.leave(date(2025, 1, 31), HR)
    employee = hire("E1")
    with pytest.raises(EmployeeHasLeft):
        employee.change_manager(former, [former.id], HR)
    assert employee.manager_id is None
    with pytest.raises(EmployeeHasLeft):
        hire("E2", manager=former)


def test_someone_who_has_left_cannot_change_manager() -> None:
    boss = hire("BOSS")
    employee = hire("E1")
    employee.leave(date(2025, 1, 31), HR)
    with pytest.raises(EmployeeHasLeft):
        employee.change_manager(boss, [boss.id], HR)


# -- transfers and leaving --------------------------------------------------------------------


def test_an_employee_is_transferred_to_another_department() -> None:
    employee = hire()
    employee.transfer(SERVICE, date(2026, 1, 1), HR)
    assert employee.department_id == SERVICE


def test_someone_who_has_left_cannot_be_transferred() -> None:
    employee = hire()
    employee.leave(date(2025, 1, 31), HR)
    employee.collect_events()
    with pytest.raises(EmployeeHasLeft):
        employee.transfer(SERVICE, date(2026, 1, 1), HR)
    assert employee.department_id == SALES
    assert employee.collect_events() == []


def test_a_transfer_to_the_current_department_is_rejected() -> None:
    with pytest.raises(DomainError) as caught:
        hire().transfer(SALES, date(2026, 1, 1), HR)
    assert_rejected(InvalidInput, "departmentId", caught)


def test_a_transfer_cannot_take_effect_before_hiring() -> None:
    with pytest.raises(DomainError) as caught:
        hire(hire_date=date(2021, 5, 1)).transfer(SERVICE, date(2021, 4, 30), HR)
    assert_rejected(InvalidInput, "effective", caught)


def test_a_leave_date_cannot_lie_before_the_hire_date() -> None:
    employee = hire(hire_date=date(2021, 5, 1))
    with pytest.raises(DomainError) as caught:
        employee.leave(date(2021, 4, 30), HR)
    assert_rejected(InvalidInput, "leaveDate", caught)
    assert not employee.has_left


def test_an_employee_leaves_only_once() -> None:
    employee = hire()
    employee.leave(date(2025, 1, 31), HR)
    assert employee.has_left
    assert employee.leave_date == date(2025, 1, 31)
    with pytest.raises(EmployeeHasLeft):
        employee.leave(date(2025, 2, 28), HR)


# -- codes, names and attributes --------------------------------------------------------------


@pytest.mark.parametrize("code", ["", " ", "-E1", "E 1", "E/1", "x" * 41, "Ä1"])
def test_an_employee_code_must_be_letters_digits_and_separators(code: str) -> None:
    with pytest.raises(DomainError) as caught:
        hire(code)
    assert_rejected(InvalidInput, "code", caught)


def test_an_employee_code_is_trimmed() -> None:
    assert hire("  E-1.a_b ").code == "E-1.a_b"


@pytest.mark.parametrize(("field", "value"), [("name", " "), ("job_title", "")])
def test_an_employee_needs_a_name_and_a_job_title(field: str, value: str) -> None:
    with pytest.raises(DomainError) as caught:
        hire("E1", None, None, **{field: value})
    assert_rejected(InvalidInput, {"name": "name", "job_title": "jobTitle"}[field], caught)


@pytest.mark.parametrize("key", ["Gender", "1st", "_x", "home-town", "a b", "x" * 41, ""])
def test_an_attribute_name_must_be_lower_case_letters_digits_and_underscores(key: str) -> None:
    with pytest.raises(DomainError) as caught:
        hire(attributes={key: "value"})
    assert_rejected(InvalidInput, "attributes", caught)


def test_an_attribute_value_must_not_be_blank_and_names_its_key() -> None:
    with pytest.raises(DomainError) as caught:
        hire(attributes={"location": "  "})
    assert_rejected(InvalidInput, "attributes.location", caught)


def test_an_attribute_value_has_a_length_limit() -> None:
    assert hire(attributes={"team": "x" * MAX_ATTRIBUTE_VALUE}).attributes["team"]
    with pytest.raises(DomainError) as caught:
        hire(attributes={"team": "x" * (MAX_ATTRIBUTE_VALUE + 1)})
    assert_rejected(InvalidInput, "attributes.team", caught)


def test_an_employee_has_a_limited_number_of_attributes() -> None:
    allowed = {f"a{i}": "v" for i in range(MAX_ATTRIBUTES)}
    assert len(hire(attributes=allowed).attributes) == MAX_ATTRIBUTES
    with pytest.raises(DomainError) as caught:
        hire(attributes={**allowed, "one_more": "v"})
    assert_rejected(InvalidInput, "attributes", caught)


def test_attributes_are_trimmed_and_sorted_by_name() -> None:
    employee = hire(attributes={"location": " Berlin ", "gender": "f"})
    assert list(employee.attributes.items()) == [("gender", "f"), ("location", "Berlin")]


def test_setting_attributes_validates_them_too() -> None:
    employee = hire(attributes={"gender": "f"})
    with pytest.raises(DomainError) as caught:
        employee.set_attributes({"Gender": "m"}, HR)
    assert_rejected(InvalidInput, "attributes", caught)
    assert employee.attributes == {"gender": "f"}
    employee.set_attributes({"gender": "m"}, HR)
    assert employee.attributes == {"gender": "m"}


# -- departments ------------------------------------------------------------------------------


def test_a_department_cannot_sit_under_one_of_its_sub_departments() -> None:
    # sales <- key_accounts <- north; moving sales under north would close the loop.
    sales = department("SALES")
    key_accounts = department("KEY", parent_id=sales.id)
    north = department("NORTH", parent_id=key_accounts.id)
    ancestry = [north.id, key_accounts.id, sales.id]  # north, then everything above it
    with pytest.raises(DomainError) as caught:
        sales.move_under(north.id, ancestry, HR)
    assert_rejected(DepartmentCycle, "parentId", caught)
    assert sales.parent_id is None
    assert sales.collect_events() == []


def test_a_department_cannot_sit_under_itself() -> None:
    sales = department("SALES")
    with pytest.raises(DomainError) as caught:
        sales.move_under(sales.id, [sales.id], HR)
    assert_rejected(DepartmentCycle, "parentId", caught)


def test_a_department_moves_under_another_branch_or_to_the_top() -> None:
    sales = department("SALES")
    service = department("SERVICE")
    key_accounts = department("KEY", parent_id=sales.id)
    key_accounts.move_under(service.id, [service.id], HR)
    assert key_accounts.parent_id == service.id
    key_accounts.move_under(None, [], HR)
    assert key_accounts.parent_id is None


def test_moving_a_department_under_its_current_parent_is_rejected() -> None:
    sales = department("SALES")
    key_accounts = department("KEY", parent_id=sales.id)
    with pytest.raises(DomainError) as caught:
        key_accounts.move_under(sales.id, [sales.id], HR)
    assert_rejected(InvalidInput, "parentId", caught)


@pytest.mark.parametrize("code", ["", "SALES DEPT", "#1"])
def test_a_department_code_must_be_well_formed(code: str) -> None:
    with pytest.raises(DomainError) as caught:
        department(code)
    assert_rejected(InvalidInput, "code", caught)


def test_a_department_name_must_not_be_blank() -> None:
    sales = department("SALES")
    with pytest.raises(DomainError) as caught:
        sales.rename("   ", HR)
    assert_rejected(InvalidInput, "name", caught)
    sales.rename(" Sales & Key Accounts ", HR)
    assert sales.name == "Sales & Key Accounts"
