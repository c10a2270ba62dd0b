-- Attendance policy of the students (R-T1, R-T3, R-T5; docs/rules.md#attendance): the
-- school day, with stricter thresholds than the staff's, terms and vacations, and the extra
-- hours of work-study students (勤工助学).
--
--   classify{weekday=, minutes_in=, minutes_out=, holiday=, date=}
--     -> {late=, early=, absent=, workday=}
--   overtime{minutes_in=, minutes_out=, weekday=, holiday=, date=} -> {minutes=}
--   calendar{} -> {known_until=}: the last day the terms and holidays below are known for
--
-- Times are minutes after midnight of the campus day (07:40 = 460). A missing punch is left
-- out (or negative). weekday: 1 = Monday ... 7 = Sunday. holiday = true: the caller knows
-- the day is off. date ("YYYY-MM-DD"), when given, is checked against the holidays and the
-- terms below: a day outside the terms is vacation.

local START <const> = 7 * 60 + 40     -- 07:40, morning reading
local END <const> = 17 * 60 + 10      -- 17:10, after the last class
local ABSENT_AFTER <const> = 30       -- late or early by more than 30 minutes: absent (旷课)
local EXTRA_UNTIL <const> = 22 * 60   -- work-study hours count until the dormitories close
local EXTRA_UNIT <const> = 15         -- in whole quarter hours
local LUNCH_FROM <const> = 12 * 60
local LUNCH_TO <const> = 13 * 60 + 30 -- the midday break does not count on rest days

local SCHOOL_DAYS = { [1] = true, [2] = true, [3] = true, [4] = true, [5] = true }

-- Terms (学期), inclusive, in order; dates compare as strings.
local TERMS = {
    { from = "2026-02-23", to = "2026-07-03" }, -- spring term 2026
    { from = "2026-09-07", to = "2027-01-15" }, -- autumn term 2026
    -- 2027: samples — check them against the school calendar before relying on them
    { from = "2027-02-22", to = "2027-07-02" }, -- spring term 2027
    { from = "2027-09-06", to = "2028-01-14" }, -- autumn term 2027
}

-- Public holidays and weekend school days: a sample list for 2026, and a provisional one for
-- 2027 (the festivals' dates from the lunar calendar, without the weekend days worked, before
-- the State Council's notice) — check both against the notice and the school calendar, and
-- replace 2027's when the notice is out. HOLIDAYS_UNTIL is the last day
-- they are listed for: when next year's notice is out, add its days and move it on.
local HOLIDAYS_UNTIL <const> = "2027-12-31"
local HOLIDAYS = {}
local MAKEUP_DAYS = {}
local function days(list, from, to)
    local prefix = from:sub(1, 8)
    for d = tonumber(from:sub(9, 10)), tonumber(to:sub(9, 10)) do
        list[string.format("%s%02d", prefix, d)] = true
    end
end
days(HOLIDAYS, "2026-04-04", "2026-04-06") -- 清明节
days(HOLIDAYS, "2026-05-01", "2026-05-05") -- 劳动节
days(HOLIDAYS, "2026-06-19", "2026-06-21") -- 端午节
days(HOLIDAYS, "2026-09-25", "2026-09-27") -- 中秋节
days(HOLIDAYS, "2026-10-01", "2026-10-07") -- 国庆节
-- 2027, provisional (see above); 春节 falls in the winter vacation
days(HOLIDAYS, "2027-01-01", "2027-01-03") -- 元旦
days(HOLIDAYS, "2027-04-03", "2027-04-05") -- 清明节
days(HOLIDAYS, "2027-05-01", "2027-05-05") -- 劳动节
days(HOLIDAYS, "2027-06-09", "2027-06-09") -- 端午节
days(HOLIDAYS, "2027-09-15", "2027-09-15") -- 中秋节
days(HOLIDAYS, "2027-10-01", "2027-10-07") -- 国庆节
for _, d in ipairs({ "2026-05-09", "2026-09-20", "2026-10-10" }) do
    MAKEUP_DAYS[d] = true
end

-- The calendar is known up to the earlier of the last term's end and HOLIDAYS_UNTIL. After
-- it this policy cannot tell a school day from a vacation or a holiday: the attendance
-- plugin asks calendar() and does not judge such days (it logs an error each day naming
-- this file until the lists above are extended).
local CALENDAR_UNTIL <const> = TERMS[#TERMS].to < HOLIDAYS_UNTIL and TERMS[#TERMS].to
    or HOLIDAYS_UNTIL

local function fail(fn, fmt, ...)
    error(fn .. ": " .. string.format(fmt, ...), 0)
end

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

local function in_term(date)
    for _, t in ipairs(TERMS) do
        if date >= t.from and date <= t.to then
            return true
        end
    end
    return false
end

local function is_school_day(fn, a)
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
        if not in_term(date) or HOLIDAYS[date] then
            return false
        end
        if MAKEUP_DAYS[date] then
            return true
        end
    end
    local wd = a.weekday
    if math.type(wd) ~= "integer" or wd < 1 or wd > 7 then
        fail(fn, "weekday must be 1 (Monday) to 7 (Sunday), not %s", tostring(wd))
    end
    return SCHOOL_DAYS[wd] == true
end

function classify(a)
    local t_in, t_out = punch("classify", a, "minutes_in"), punch("classify", a, "minutes_out")
    if t_in and t_out and t_out < t_in then
        fail("classify", "minutes_out (%d) is before minutes_in (%d)", t_out, t_in)
    end
    if not is_school_day("classify", a) then
        return { late = 0, early = 0, absent = false, workday = false }
    end
    if not t_in or not t_out then
        return { late = 0, early = 0, absent = true, workday = true }
    end
    local late = t_in > START and t_in - START or 0
    local early = t_out < END and END - t_out or 0
    if late > ABSENT_AFTER or early > ABSENT_AFTER then
        return { late = 0, early = 0, absent = true, workday = true }
    end
    return { late = late, early = early, absent = false, workday = true }
end

function calendar()
    return { known_until = CALENDAR_UNTIL }
end

-- Work-study minutes: after the school day on school days, the whole stay (less the midday
-- break) on other days; never after EXTRA_UNTIL.
function overtime(a)
    local t_in, t_out = punch("overtime", a, "minutes_in"), punch("overtime", a, "minutes_out")
    if not t_in or not t_out then
        fail("overtime", "minutes_in and minutes_out are both required")
    end
    if t_out < t_in then
        fail("overtime", "minutes_out (%d) is before minutes_in (%d)", t_out, t_in)
    end
    local school_day = true
    if a.weekday ~= nil or a.date ~= nil or a.holiday ~= nil then
        school_day = is_school_day("overtime", a)
    end
    t_out = math.min(t_out, EXTRA_UNTIL)
    local minutes
    if school_day then
        minutes = math.max(0, t_out - math.max(t_in, END))
    else
        local lunch = math.max(0, math.min(t_out, LUNCH_TO) - math.max(t_in, LUNCH_FROM))
        minutes = math.max(0, t_out - t_in - lunch)
    end
    return { minutes = minutes // EXTRA_UNIT * EXTRA_UNIT }
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
    check({ weekday = 1, minutes_in = 455, minutes_out = 1035 }, 0, 0, false, true)
    check({ weekday = 1, minutes_in = 461, minutes_out = 1030 }, 1, 0, false, true)
    check({ weekday = 2, minutes_in = 490, minutes_out = 1030 }, 30, 0, false, true)
    check({ weekday = 2, minutes_in = 491, minutes_out = 1030 }, 0, 0, true, true)
    check({ weekday = 3, minutes_in = 460, minutes_out = 1000 }, 0, 30, false, true)
    check({ weekday = 3, minutes_in = 460, minutes_out = 999 }, 0, 0, true, true)
    check({ weekday = 4, minutes_in = 460 }, 0, 0, true, true)
    check({ weekday = 7 }, 0, 0, false, false)
    check({ weekday = 2, holiday = true }, 0, 0, false, false)
    check({ weekday = 3, date = "2026-07-15" }, 0, 0, false, false) -- summer vacation
    check({ weekday = 4, date = "2026-10-01" }, 0, 0, false, false)
    check({ weekday = 6, date = "2026-10-10", minutes_in = 460, minutes_out = 1030 }, 0, 0, false, true)
    check({ weekday = 5, date = "2026-11-27", minutes_in = 470, minutes_out = 1030 }, 10, 0, false, true)
    ot({ minutes_in = 460, minutes_out = 19 * 60 }, 105)
    ot({ minutes_in = 460, minutes_out = 23 * 60, weekday = 2 }, 285)
    ot({ minutes_in = 460, minutes_out = 1030, weekday = 2 }, 0)
    ot({ minutes_in = 9 * 60, minutes_out = 14 * 60, weekday = 6 }, 210)
    ot({ minutes_in = 9 * 60, minutes_out = 14 * 60, weekday = 2, date = "2026-08-04" }, 210)
    check({ weekday = 1, date = "2027-02-22", minutes_in = 460, minutes_out = 1030 }, 0, 0, false, true)
    assert(calendar().known_until == "2027-12-31")
    assert(not pcall(classify, { weekday = 9 }))
    assert(not pcall(overtime, { minutes_out = 600 }))
    return true
end
