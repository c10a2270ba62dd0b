-- Attendance policy of the teaching staff (R-T1, R-T3, R-T5; docs/rules.md#attendance).
-- The attendance plugin calls it for each person and day:
--
--   classify{weekday=, minutes_in=, minutes_out=, holiday=, date=}
--     -> {late=, early=, absent=, workday=}
--   overtime{minutes_in=, minutes_out=, weekday=, holiday=, date=} -> {minutes=}
--   calendar{} -> {known_until=}: the last day the holidays below are known for
--
-- Times are minutes after midnight of the campus day (08:30 = 510); minutes_out may pass
-- 1440 for a sign-out after midnight. A missing punch is left out (or negative).
-- weekday: 1 = Monday ... 7 = Sunday. holiday = true: the caller knows the day is off.
-- date ("YYYY-MM-DD"), when given, is looked up in the lists below.

local START <const> = 8 * 60          -- 08:00
local END <const> = 17 * 60           -- 17:00
local LATE_GRACE <const> = 5          -- a sign-in up to 08:05 is on time
local EARLY_GRACE <const> = 5         -- a sign-out from 16:55 is on time
local ABSENT_AFTER <const> = 120      -- late or early by more: absent for the day (旷工)
local OVERTIME_FROM <const> = 17 * 60 + 30 -- on workdays, overtime counts from 17:30
local OVERTIME_UNIT <const> = 30      -- in whole half hours
local LUNCH_FROM <const> = 12 * 60    -- on rest days, the lunch hour does not count
local LUNCH_TO <const> = 13 * 60

local WORKDAYS = { [1] = true, [2] = true, [3] = true, [4] = true, [5] = true }

-- Public holidays (放假) and the weekend days worked instead (调休上班): a sample list for
-- 2026, and a provisional one for 2027 (the festivals' dates from the lunar calendar, without
-- the weekend days worked, before the State Council's notice) — check both against the
-- notice and replace 2027's when it is out. CALENDAR_UNTIL is the last
-- day they are listed for: after it this policy cannot tell a holiday from a workday, and the
-- attendance plugin, which asks calendar(), does not judge such days (it logs an error each
-- day naming this file). When next year's notice is out, add its days and move it on.
local CALENDAR_UNTIL <const> = "2027-12-31"
local HOLIDAYS = {}
local MAKEUP_WORKDAYS = {}
local function days(list, from, to)
    -- from..to within one month, as "YYYY-MM-DD"
    local prefix = from:sub(1, 8)
    for d = tonumber(from:sub(9, 10)), tonumber(to:sub(9, 10)) do
        list[string.format("%s%02d", prefix, d)] = true
    end
end
days(HOLIDAYS, "2026-01-01", "2026-01-03") -- 元旦
days(HOLIDAYS, "2026-02-15", "2026-02-23") -- 春节
days(HOLIDAYS, "2026-04-04", "2026-04-06") -- 清明节
days(HOLIDAYS, "2026-05-01", "2026-05-05") -- 劳动节
days(HOLIDAYS, "2026-06-19", "2026-06-21") -- 端午节
days(HOLIDAYS, "2026-09-25", "2026-09-27") -- 中秋节
days(HOLIDAYS, "2026-10-01", "2026-10-07") -- 国庆节
-- 2027, provisional (see above)
days(HOLIDAYS, "2027-01-01", "2027-01-03") -- 元旦
days(HOLIDAYS, "2027-02-04", "2027-02-12") -- 春节 (正月初一 2027-02-06)
days(HOLIDAYS, "2027-04-03", "2027-04-05") -- 清明节
days(HOLIDAYS, "2027-05-01", "2027-05-05") -- 劳动节
days(HOLIDAYS, "2027-06-09", "2027-06-09") -- 端午节
days(HOLIDAYS, "2027-09-15", "2027-09-15") -- 中秋节
days(HOLIDAYS, "2027-10-01", "2027-10-07") -- 国庆节
for _, d in ipairs({ "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20",
    "2026-10-10" }) do
    MAKEUP_WORKDAYS[d] = true
end

local function fail(fn, fmt, ...)
    error(fn .. ": " .. string.format(fmt, ...), 0)
end

-- A punch time, or nil when there was none.
local function punch(fn, a, name)
    local v = a[name]
    if v == nil then
        return nil
    end
    if math.type(v) ~= "integer" or v > 2880 then
        fail(fn, "%s must be an integer of minutes from 0 to 2880, not %s", name, tostring(v))
    end
    return v >= 0 and v or nil
end

local function is_workday(fn, a)
    if a.holiday ~= nil and type(a.holiday) ~= "boolean" then
        fail(fn, "holiday must be a boolean")
    end
    if a.holiday then
        return false
    end
    local date = a.date
    if date ~= nil then
        if type(date) ~= "string" or not date:find("^%d%d%d%d%-%d%d%-%d%d$") then
            fail(fn, "date must look like 2026-10-01, not %s", tostring(date))
        end
        if MAKEUP_WORKDAYS[date] then
            return true
        end
        if HOLIDAYS[date] then
            return false
        end
    end
    local wd = a.weekday
    if math.type(wd) ~= "integer" or wd < 1 or wd > 7 then
        fail(fn, "weekday must be 1 (Monday) to 7 (Sunday), not %s", tostring(wd))
    end
    return WORKDAYS[wd] == true
end

function classify(a)
    local t_in, t_out = punch("classify", a, "minutes_in"), punch("classify", a, "minutes_out")
    if t_in and t_out and t_out < t_in then
        fail("classify", "minutes_out (%d) is before minutes_in (%d)", t_out, t_in)
    end
    if not is_workday("classify", a) then
        return { late = 0, early = 0, absent = false, workday = false }
    end
    if not t_in or not t_out then
        -- A day needs both punches; a forgotten one is put right by an approved correction.
        return { late = 0, early = 0, absent = true, workday = true }
    end
    local late = t_in > START + LATE_GRACE and t_in - START or 0
    local early = t_out < END - EARLY_GRACE and END - t_out or 0
    if late > ABSENT_AFTER or early > ABSENT_AFTER then
        return { late = 0, early = 0, absent = true, workday = true } -- absent, not also late
    end
    return { late = late, early = early, absent = false, workday = true }
end

function calendar()
    return { known_until = CALENDAR_UNTIL }
end

function overtime(a)
    local t_in, t_out = punch("overtime", a, "minutes_in"), punch("overtime", a, "minutes_out")
    if not t_in or not t_out then
        fail("overtime", "minutes_in and minutes_out are both required")
    end
    if t_out < t_in then
        fail("overtime", "minutes_out (%d) is before minutes_in (%d)", t_out, t_in)
    end
    local workday = true
    if a.weekday ~= nil or a.date ~= nil or a.holiday ~= nil then
        workday = is_workday("overtime", a)
    end
    local minutes
    if workday then
        minutes = math.max(0, t_out - math.max(t_in, OVERTIME_FROM))
    else
        local lunch = math.max(0, math.min(t_out, LUNCH_TO) - math.max(t_in, LUNCH_FROM))
        minutes = t_out - t_in - lunch
    end
    return { minutes = minutes // OVERTIME_UNIT * OVERTIME_UNIT }
end

function selftest()
    local function check(args, late, early, absent, workday)
        local r = classify(args)
        assert(r.late == late and r.early == early and r.absent == absent
            and r.workday == workday, string.format(
            "classify(weekday=%s, in=%s, out=%s) gave late %s early %s absent %s workday %s",
            tostring(args.weekday), tostring(args.minutes_in), tostring(args.minutes_out),
            tostring(r.late), tostring(r.early), tostring(r.absent), tostring(r.workday)))
    end
    local function ot(args, minutes)
        local r = overtime(args)
        assert(r.minutes == minutes, string.format("overtime(%s, %s) gave %s, expected %d",
            tostring(args.minutes_in), tostring(args.minutes_out), tostring(r.minutes), minutes))
    end
    check({ weekday = 1, minutes_in = 475, minutes_out = 1030 }, 0, 0, false, true)
    check({ weekday = 2, minutes_in = 484, minutes_out = 1020 }, 0, 0, false, true)
    check({ weekday = 2, minutes_in = 486, minutes_out = 1020 }, 6, 0, false, true)
    check({ weekday = 3, minutes_in = 480, minutes_out = 1016 }, 0, 0, false, true)
    check({ weekday = 3, minutes_in = 480, minutes_out = 1010 }, 0, 10, false, true)
    check({ weekday = 4, minutes_in = 600, minutes_out = 1020 }, 120, 0, false, true)
    check({ weekday = 4, minutes_in = 630, minutes_out = 1020 }, 0, 0, true, true)
    check({ weekday = 5, minutes_in = 480, minutes_out = 840 }, 0, 0, true, true)
    check({ weekday = 5 }, 0, 0, true, true)
    check({ weekday = 5, minutes_in = 480, minutes_out = -1 }, 0, 0, true, true)
    check({ weekday = 6 }, 0, 0, false, false)
    check({ weekday = 1, holiday = true }, 0, 0, false, false)
    check({ weekday = 4, date = "2026-10-01" }, 0, 0, false, false)
    check({ weekday = 6, date = "2026-10-10", minutes_in = 490, minutes_out = 1020 }, 10, 0, false, true)
    check({ weekday = 5, date = "2026-11-27", minutes_in = 480, minutes_out = 1020 }, 0, 0, false, true)
    ot({ minutes_in = 480, minutes_out = 19 * 60 + 10 }, 90)
    ot({ minutes_in = 480, minutes_out = 17 * 60 + 50 }, 0)
    ot({ minutes_in = 480, minutes_out = 1020, weekday = 3 }, 0)
    ot({ minutes_in = 540, minutes_out = 750, weekday = 6 }, 180)
    ot({ minutes_in = 540, minutes_out = 17 * 60 + 15, weekday = 7 }, 420)
    ot({ minutes_in = 18 * 60, minutes_out = 1440 + 60, weekday = 2 }, 420)
    assert(calendar().known_until == "2027-12-31")
    assert(not pcall(classify, { minutes_in = 480, minutes_out = 1020 }))
    assert(not pcall(classify, { weekday = 1, minutes_in = 600, minutes_out = 500 }))
    assert(not pcall(classify, { weekday = 1, date = "1.10.2026" }))
    assert(not pcall(overtime, { minutes_in = 480 }))
    return true
end
