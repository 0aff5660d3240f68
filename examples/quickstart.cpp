// adxl quickstart in C++: CANN's adxl::AdxlEngine API (include/adxl/adxl_engine.hpp).
#include <adxl/adxl_engine.hpp>

#include <cstdio>
#include <cstring>
#include <vector>

using namespace adxl;

int main() {
    AdxlEngine target, initiator;
    if (target.Initialize("127.0.0.1:0", {{"adxl.BufferPool", "4:8"}}) != SUCCESS ||
        initiator.Initialize("127.0.0.1", {}) != SUCCESS)
        return 1;
    const AscendString name = target.GetLocalEngine();

    void *region = AdxlEngine::MallocMem(MEM_HOST, 1 << 20);
    MemDesc desc{};
    desc.addr = reinterpret_cast<uintptr_t>(region);
    desc.len = 1 << 20;
    MemHandle handle = nullptr;
    if (!region || target.RegisterMem(desc, MEM_HOST, handle) != SUCCESS) return 1;

    if (initiator.Connect(name, 1000) != SUCCESS) return 1;
    std::vector<char> out(4096, 'p'), back(4096);
    uintptr_t remote = desc.addr + 4096;
    Status st = initiator.TransferSync(
        name, WRITE, {{reinterpret_cast<uintptr_t>(out.data()), remote, out.size()}}, 1000);
    if (st == SUCCESS)
        st = initiator.TransferSync(
            name, READ, {{reinterpret_cast<uintptr_t>(back.data()), remote, back.size()}}, 1000);
    if (st == SUCCESS) st = initiator.SendNotify(name, {"done", "quickstart"}, 1000);
    std::vector<NotifyDesc> notes;
    while (st == SUCCESS && notes.empty())
        st = target.GetNotifies(notes);
    bool ok = st == SUCCESS && out == back && notes[0].notify_msg == "quickstart";
    std::printf("quickstart (C++): wrote and read back 4096 bytes via %s: %s\n", name.c_str(),
                ok ? "ok" : "MISMATCH");
    initiator.Disconnect(name, 1000);
    target.DeregisterMem(handle);
    initiator.Finalize();
    target.Finalize();
    AdxlEngine::FreeMem(region);
    return ok ? 0 : 1;
}
