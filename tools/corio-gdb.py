# corio's tasks in gdb: `corio-tasks` prints every live task of an event loop as a tree
# (who spawned whom, task groups as nodes), each with its name, id, what it waits for and
# its chain of awaits, innermost first — what corio::dump_tasks prints in the program, read
# from a stopped process or a core file, without running any of the program's code.
#
#   gdb -p <pid>            -ex 'source tools/corio-gdb.py' -ex corio-tasks
#   gdb prog core           -ex 'source tools/corio-gdb.py' -ex corio-tasks
#   (gdb) corio-tasks                  # the loop running on the selected thread, else on any
#   (gdb) corio-tasks &loop            # a given corio::event_loop (object or pointer)
#
# Needs the program's debug information (-g). In a core file, "what it waits for" names
# the kind of wait (a mutex, a timer, a task...) from the waiter's description function;
# the program's own dump adds the values (when a timer fires, who holds the mutex).

import gdb

RUNNING_LOOP = "corio::detail::(anonymous namespace)::t_running_loop"


def _unique_ptr_get(value, pointee):
    """The pointer held by a std::unique_ptr with the default deleter: its only member."""
    return value.address.cast(gdb.lookup_type(pointee).pointer().pointer()).dereference()


def _string(value):
    """A libstdc++ std::string's text."""
    try:
        length = int(value["_M_string_length"])
        return value["_M_dataplus"]["_M_p"].string(length=length)
    except gdb.error:
        return "?"


def _c_string(pointer):
    if int(pointer) == 0:
        return None
    try:
        return pointer.string()
    except gdb.error:
        return None


def _symbol(address):
    """The function at `address`, as gdb names it, or None."""
    if int(address) == 0:
        return None
    block = gdb.block_for_pc(int(address))
    while block is not None and block.function is None:
        block = block.superblock
    return block.function.print_name if block is not None else None


def _wait_queue_what(waiter):
    """For a waiter inside a wait_queue's node: the queue's `what` ("a mutex")."""
    try:
        node_type = gdb.lookup_type("corio::detail::queued_waiter")
    except gdb.error:
        return None
    offset = None
    for field in node_type.fields():
        if field.name == "w":
            offset = field.bitpos // 8
    if offset is None:
        return None
    node = (waiter.address.cast(gdb.lookup_type("char").pointer()) - offset).cast(
        node_type.pointer())
    queue = node["queue"]
    if int(queue) == 0:
        return None
    return _c_string(queue["m_what"])


# What a waiter waits for, from the name of its description function.
KINDS = [
    ("sleep_awaiter", "a timer"),
    ("describe_join_waiter", "another task to finish"),
    ("wait_fd", "an fd to be ready"),
    ("io_await", "an io_uring operation"),
    ("future", "a future"),
    ("thread_pool", "a call on the thread pool"),
    ("task_group", "the children of its task group"),
    ("signal", "a signal"),
    ("stream", "data from a stream"),
]


def _waiting_for(waiter):
    describe = _symbol(waiter["describe"])
    if describe is not None and "wait_queue" in describe:
        what = _wait_queue_what(waiter)
        if what:
            return what
    if describe is not None:
        for key, text in KINDS:
            if key in describe:
                return text
        return "something (" + describe + ")"
    return None


def _chain(promise):
    """`file:line fetch() ← worker()`: from the root coroutine down, printed innermost first."""
    frames = []
    seen = set()
    while int(promise) != 0 and int(promise) not in seen and len(frames) < 1000:
        seen.add(int(promise))
        p = promise.dereference()
        text = (_c_string(p["m_function"]) or "?") + "()"
        try:
            where = _c_string(p["m_await_file"])
            if where:
                text = "%s:%d %s" % (where.rsplit("/", 1)[-1], int(p["m_await_line"]), text)
        except gdb.error:  # built without CORIO_AWAIT_SITES
            pass
        frames.append(text)
        promise = p["m_child"]
    return " ← ".join(reversed(frames))


class Task:
    def __init__(self, state, current):
        self.id = int(state["m_id"])
        self.spawned_by = int(state["m_spawned_by"])
        self.group = int(state["m_group"])
        self.done = bool(state["m_done"])
        extras = _unique_ptr_get(state["m_extras"], "corio::detail::task_state_base::extras")
        self.name = "Task-%d" % self.id
        if int(extras) != 0 and bool(extras.dereference()["named"]):
            self.name = _string(extras.dereference()["name"])
        if int(state.address) == int(current):
            self.state = "running"
        elif int(state["m_parked"]) != 0:
            waiting = _waiting_for(state["m_parked"].dereference())
            self.state = "waiting for " + waiting if waiting else "waiting"
        else:
            self.state = "ready to run"
        self.chain = _chain(state["m_promise"])


def _tasks(loop):
    node_type = gdb.lookup_type("corio::detail::task_list_node").pointer()
    head = loop["m_tasks"]["head"]
    head_address = int(head.address)
    node = head["next"]
    tasks = []
    while int(node) != head_address and int(node) != 0 and len(tasks) < 10_000_000:
        owner = node.cast(node_type).dereference()["owner"]
        task = Task(owner.dereference(), loop["m_current"])
        if not task.done:
            tasks.append(task)
        node = node.dereference()["next"]
    return sorted(tasks, key=lambda t: t.id)


def _find_loop():
    """The loop running on the selected thread, else on any thread."""
    selected = gdb.selected_thread()
    threads = [selected] if selected is not None else []
    threads += [t for t in gdb.selected_inferior().threads() if t != selected]
    for thread in threads:
        thread.switch()
        try:
            loop = gdb.parse_and_eval("'%s'" % RUNNING_LOOP)
        except gdb.error:
            continue
        if int(loop) != 0:
            if selected is not None:
                selected.switch()
            return loop.dereference()
    if selected is not None:
        selected.switch()
    raise gdb.GdbError("corio-tasks: no corio event loop is running on any thread "
                       "(give one: corio-tasks &loop)")


def print_tree(loop, write):
    tasks = _tasks(loop)
    alive = {t.id for t in tasks}
    children, members, roots = {}, {}, []
    for t in tasks:
        if t.spawned_by == 0 or t.spawned_by not in alive:
            roots.append(("task", t))
        elif t.group == 0:
            children.setdefault(t.spawned_by, []).append(("task", t))
        else:
            if t.group not in members:
                members[t.group] = []
                children.setdefault(t.spawned_by, []).append(("group", t.group))
            members[t.group].append(("task", t))
    write("corio: %d task%s on the event loop\n" % (len(tasks), "" if len(tasks) == 1 else "s"))
    pending = [(node, 0) for node in reversed(roots)]
    while pending:
        (kind, item), depth = pending.pop()
        indent = "  " * min(depth, 32)
        if kind == "group":
            group = members[item]
            write("%stask group #%d: %d task%s\n"
                  % (indent, item, len(group), "" if len(group) == 1 else "s"))
            pending += [(node, depth + 1) for node in reversed(group)]
            continue
        write("%s%s (#%d): %s\n" % (indent, item.name, item.id, item.state))
        write("%s    %s\n" % (indent, item.chain))
        pending += [(node, depth + 1) for node in reversed(children.get(item.id, []))]


class CorioTasks(gdb.Command):
    """Print every live task of a corio event loop: corio-tasks [LOOP-EXPRESSION]."""

    def __init__(self):
        super().__init__("corio-tasks", gdb.COMMAND_DATA)

    def invoke(self, argument, from_tty):
        if argument.strip():
            loop = gdb.parse_and_eval(argument)
            if loop.type.strip_typedefs().code == gdb.TYPE_CODE_PTR:
                loop = loop.dereference()
        else:
            loop = _find_loop()
        print_tree(loop, gdb.write)


CorioTasks()
