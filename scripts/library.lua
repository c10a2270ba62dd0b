-- Library (R-L): the fine for a book returned late, paid from the wallet
-- (docs/rules.md#library).
--
--   fine{days_overdue=, card_type=} -> {fine=}
--
-- days_overdue: whole days past the due date (0 or less: not overdue). fine is in fen,
-- per book, at most CAP_FEN.

local FEN_PER_DAY = {
    regular = 10,   -- students and staff: 0.10 CNY a day
    temporary = 20, -- temporary cards: 0.20 CNY a day
}
local GRACE_DAYS <const> = 0 -- days past due that cost nothing
local CAP_FEN <const> = 1000 -- at most 10 CNY per book

function fine(a)
    local days = a.days_overdue
    if math.type(days) ~= "integer" or days < -36500 or days > 36500 then
        error(string.format("fine: days_overdue must be an integer of days, not %s",
            tostring(days)), 0)
    end
    local card_type = a.card_type or "regular"
    local per_day = FEN_PER_DAY[card_type]
    if per_day == nil then
        error(string.format("fine: unknown card_type %s", tostring(card_type)), 0)
    end
    local days_charged = math.max(0, days - GRACE_DAYS)
    return { fine = math.min(days_charged * per_day, CAP_FEN) }
end

function selftest()
    local function check(days, card_type, expected)
        local r = fine({ days_overdue = days, card_type = card_type })
        assert(r.fine == expected, string.format("fine(%d days, %s) gave %s, expected %d", days,
            tostring(card_type), tostring(r.fine), expected))
    end
    check(0, "regular", 0)
    check(-3, "regular", 0)
    check(1, "regular", 10)
    check(5, "regular", 50)
    check(5, "temporary", 100)
    check(99, "regular", 990)
    check(100, "regular", 1000)
    check(365, "regular", 1000)
    check(365, "temporary", 1000)
    check(7, nil, 70)
    assert(not pcall(fine, { days_overdue = 2.5 }))
    assert(not pcall(fine, { days_overdue = 3, card_type = "gold" }))
    return true
end
