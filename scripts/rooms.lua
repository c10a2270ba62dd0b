-- Rooms (R-R): public computer rooms charge by the minute, with a minimum charge per
-- session (docs/rules.md#rooms).
--
--   price{minutes=, room_type=} -> {charge=}
--
-- minutes: the session's length in whole minutes (the plugin rounds up a started minute).
-- A session of 0 minutes costs nothing; any other costs at least the room's minimum.

local ROOMS = {
    public = { fen_per_minute = 2, minimum = 50 },      -- 公共机房: 1.20 CNY/h, at least 0.50
    lab = { fen_per_minute = 3, minimum = 100 },        -- 实验室 computers: 1.80 CNY/h, at least 1.00
    multimedia = { fen_per_minute = 5, minimum = 100 }, -- 多媒体/设计机房: 3.00 CNY/h, at least 1.00
}

local MAX_MINUTES <const> = 7 * 24 * 60 -- a week: anything longer is a fault upstream

function price(a)
    local minutes = a.minutes
    if math.type(minutes) ~= "integer" or minutes < 0 or minutes > MAX_MINUTES then
        error(string.format("price: minutes must be an integer from 0 to %d, not %s",
            MAX_MINUTES, tostring(minutes)), 0)
    end
    local room = ROOMS[a.room_type]
    if room == nil then
        error(string.format("price: unknown room_type %s", tostring(a.room_type)), 0)
    end
    if minutes == 0 then
        return { charge = 0 }
    end
    return { charge = math.max(minutes * room.fen_per_minute, room.minimum) }
end

function selftest()
    local function check(minutes, room_type, expected)
        local r = price({ minutes = minutes, room_type = room_type })
        assert(r.charge == expected, string.format("price(%d min, %s) gave %s, expected %d",
            minutes, room_type, tostring(r.charge), expected))
    end
    check(0, "public", 0)
    check(1, "public", 50)
    check(10, "public", 50)
    check(25, "public", 50)
    check(26, "public", 52)
    check(90, "public", 180)
    check(10, "lab", 100)
    check(60, "lab", 180)
    check(60, "multimedia", 300)
    assert(not pcall(price, { minutes = 10 }))
    assert(not pcall(price, { minutes = -1, room_type = "public" }))
    assert(not pcall(price, { minutes = 1.5, room_type = "public" }))
    return true
end
